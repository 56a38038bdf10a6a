# The headline comparison: BFT and longest chain at 4 and 16 validators,
# every cell the same load, BFT and LC alternating. About 20 minutes on a
# 2-core machine:
#   trellis trial -spec examples/trials/headline.hcl -out trial-out
trial "headline" {
  consensus  = ["bft", "lc"]
  validators = [4, 16]
  repeat     = 1
  load {
    rate     = 100
    duration = "30s"
    drain    = "90s"
  }
}
