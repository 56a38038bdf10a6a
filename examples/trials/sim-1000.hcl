# BFT and longest chain at 1,000 validators in the simulator: a shorter
# load than sim-headline.hcl, since a simulated second at this size takes
# minutes of wall time on one core (docs/trials.md gives the speed). The
# drain ends as soon as every transfer is final.
#   trellis sim -spec examples/trials/sim-1000.hcl -out sim-1000-out
trial "sim-1000" {
  consensus  = ["bft", "lc"]
  validators = [1000]
  load {
    rate     = 100
    duration = "2s"
    drain    = "30s"
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
