"""Times SciPy's stats.bootstrap on the job kvbench's analyze does for one
group arm: a 95 % percentile interval of the p50, p90, p95 and p99 TTFT of
500,000 requests with 10,000 resamples. Run with Debian's python3-scipy
(1.10.1, the version the reference values in stats/testdata came from):

    /usr/bin/python3 scripts/scipy_bootstrap_timing.py [n] [resamples]

Compare with: go test -run '^$' -bench 'BootstrapJob' ./stats
"""
import sys, time
import numpy as np
from scipy import stats

n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
B = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
rng = np.random.default_rng(20240601)
x = rng.lognormal(0.0, 1.0, n)
total = 0.0
for p in (0.5, 0.9, 0.95, 0.99):
    t0 = time.perf_counter()
    res = stats.bootstrap((x,), lambda s, axis: np.quantile(s, p, axis=axis), vectorized=True,
                          n_resamples=B, batch=20, method='percentile', confidence_level=0.95,
                          random_state=np.random.default_rng(1))
    dt = time.perf_counter() - t0
    total += dt
    print(f"p{p*100:g}: [{res.confidence_interval.low:.6f}, {res.confidence_interval.high:.6f}] in {dt:.1f} s", flush=True)
print(f"scipy {stats.__name__} total for 4 quantiles, n={n}, B={B}: {total:.1f} s")
