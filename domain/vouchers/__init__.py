"""Important blank vouchers: stock, allocation, tail boxes, counts, voids, mis-issues (V1…)."""
