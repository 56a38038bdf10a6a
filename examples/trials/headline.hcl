# The headline comparison: BFT and longest chain at 4, 8 and 16 validators
# as real processes, with no faults, with f validators crashed for the
# whole run, and with 100 ms links (50 ms each way, 1 % loss). Every cell
# the same load; BFT and LC alternate. About 25 minutes on a 2-core
# machine:
#   trellis trial -spec examples/trials/headline.hcl -out trial-out
trial "headline" {
  consensus  = ["bft", "lc"]
  validators = [4, 8, 16]
  repeat     = 1
  load {
    rate     = 100
    duration = "30s"
    drain    = "60s"
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
