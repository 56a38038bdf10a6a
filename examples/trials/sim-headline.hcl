# BFT and longest chain from 4 to 256 validators in the simulator (1,000:
# sim-1000.hcl), under the headline's load and scenarios
# (examples/trials/headline.hcl runs 4 to 16 as real processes):
#   trellis sim -spec examples/trials/sim-headline.hcl -out sim-out
trial "sim-headline" {
  consensus  = ["bft", "lc"]
  validators = [4, 8, 16, 64, 256]
  load {
    rate     = 100
    duration = "10s"
    drain    = "40s"
  }
  scenario "no-faults" {
  }
  scenario "f-crashed" {
    crash {
      nodes = "f"
    }
  }
  scenario "100ms-links" {
    link {
      delay = "50ms"
      loss  = 0.01
    }
  }
}
