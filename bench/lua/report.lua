-- Appended to every scenario by run_wrk (bench/lib.sh): one summary line
-- the scripts parse. ok: answers with a status below 400 (wrk counts 4xx
-- and 5xx in errors.status); errors: those plus socket errors. Latency
-- percentiles in milliseconds. A scenario may define report_extra() to
-- add ` name=value` fields to the line.
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ok = summary.requests - e.status
  io.write(string.format(
    "ok=%d errors=%d seconds=%.2f rate=%.1f/s p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f",
    ok, e.status + e.connect + e.read + e.write + e.timeout, secs, ok / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
  if report_extra then report_extra() end
  io.write("\n")
end
