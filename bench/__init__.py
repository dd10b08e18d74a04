"""`python -m bench.run`: the platform's throughput, latency and memory, measured end to end
on this machine and reported as ratios against a bare argon2id baseline taken in the same run."""
