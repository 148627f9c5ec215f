"""Reference p-values of Fisher's exact test, one-sided ("greater"), for
stats/testdata/fisher.json. Run with Debian's python3-scipy:

    /usr/bin/python3 scripts/fisher_reference.py > stats/testdata/fisher.json
"""
import json
import scipy
from scipy.stats import fisher_exact

tables = [
    (0, 40, 0, 40), (1, 39, 0, 40), (3, 37, 0, 40), (12, 28, 2, 38), (17, 23, 0, 40),
    (5, 95, 5, 95), (10, 90, 2, 98), (0, 10, 5, 5), (7, 3, 2, 8), (50, 950, 30, 970),
    (1, 0, 0, 1), (300, 9700, 250, 9750), (2, 2000, 0, 1500),
]
out = {"source": "scipy.stats.fisher_exact(table, alternative='greater'), scipy " + scipy.__version__,
       "command": "/usr/bin/python3 scripts/fisher_reference.py", "cases": []}
for a, b, c, d in tables:
    _, p = fisher_exact([[a, b], [c, d]], alternative="greater")
    out["cases"].append({"table": [a, b, c, d], "p": p})
print(json.dumps(out, indent=1))
