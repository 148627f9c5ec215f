package results

// Telemetry tables: what capture's samplers observe around the requests.
// Every row carries the phase and the boundary point it was taken at
// (PointStart, PointEnd) or "interval" for periodic samples, whose phase is
// the phase most recently started. Counters are stored cumulative, as read;
// analyze takes deltas between a phase's start and end rows.

// MetricSample is one row of the metrics table: one sample of one
// Prometheus series from one scrape, or one failed scrape (ScrapeError set,
// Name empty).
type MetricSample struct {
	RunID  string `parquet:"run_id,dict"`
	Source string `parquet:"source,dict"` // kvbm, system, frontend or a --metrics-url name
	// ScrapeUnixNs is when the scrape request was sent; ScrapeDurationNs
	// how long the response took to arrive in full.
	ScrapeUnixNs     int64  `parquet:"scrape_unix_ns"`
	ScrapeDurationNs int64  `parquet:"scrape_duration_ns"`
	Phase            string `parquet:"phase,dict"`
	Point            string `parquet:"point,dict"`
	// Name is the series name as exposed: histograms and summaries appear
	// as their _bucket (label le), quantile (label quantile), _sum and
	// _count series.
	Name string `parquet:"name,dict"`
	// Labels is the canonical label set: {k="v",...} sorted by name, with
	// Prometheus text escaping; "{}" when the series has no labels.
	Labels string  `parquet:"labels,dict"`
	Type   string  `parquet:"type,dict"` // counter, gauge, untyped, histogram, gaugehistogram, summary
	Value  float64 `parquet:"value"`
	// ScrapeError is empty on success; otherwise the row is the only row of
	// its scrape and says why it failed.
	ScrapeError string `parquet:"scrape_error"`
}

// IO scopes.
const (
	IOScopeDevice  = "device"
	IOScopeProcess = "process"
	IOScopeCgroup  = "cgroup"
)

// IOSample is one row of the io table: cumulative I/O counters of one
// target at one instant.
type IOSample struct {
	RunID        string `parquet:"run_id,dict"`
	SampleUnixNs int64  `parquet:"sample_unix_ns"`
	Phase        string `parquet:"phase,dict"`
	Point        string `parquet:"point,dict"`
	Scope        string `parquet:"scope,dict"` // device, process, cgroup
	// Target is the device name (nvme0n1), the PID, or the cgroup path.
	Target string `parquet:"target,dict"`
	// Device is the block device of a cgroup row (io.stat has one line
	// per device) or of a device row; empty for processes.
	Device string `parquet:"device,dict"`

	// ReadBytes and WriteBytes are bytes that reached (or came from) the
	// storage layer: sectors × 512 for devices, read_bytes/write_bytes of
	// /proc/<pid>/io for processes, rbytes/wbytes of io.stat for cgroups.
	ReadBytes  int64 `parquet:"read_bytes"`
	WriteBytes int64 `parquet:"write_bytes"`
	// ReadOps and WriteOps are completed I/Os (devices, cgroups); nil for
	// processes, whose kernel counters have no such number.
	ReadOps  *int64 `parquet:"read_ops,optional"`
	WriteOps *int64 `parquet:"write_ops,optional"`
	// IOTimeNs is the time the device had I/O in flight; ReadTimeNs and
	// WriteTimeNs are summed per-request service times; InFlight is the
	// queue depth at the instant. Devices only.
	IOTimeNs    *int64 `parquet:"io_time_ns,optional"`
	ReadTimeNs  *int64 `parquet:"read_time_ns,optional"`
	WriteTimeNs *int64 `parquet:"write_time_ns,optional"`
	InFlight    *int64 `parquet:"in_flight,optional"`
	// Syscall-level counters of a process (rchar, wchar, syscr, syscw in
	// /proc/<pid>/io): bytes passed to read/write calls, page cache
	// included. Processes only.
	SyscallReadBytes  *int64 `parquet:"syscall_read_bytes,optional"`
	SyscallWriteBytes *int64 `parquet:"syscall_write_bytes,optional"`
	SyscallReads      *int64 `parquet:"syscall_reads,optional"`
	SyscallWrites     *int64 `parquet:"syscall_writes,optional"`
}

// CacheDirSnapshot is one row of the cachedir table: the state of the
// KVBM disk cache directory at a phase boundary.
type CacheDirSnapshot struct {
	RunID        string `parquet:"run_id,dict"`
	SampleUnixNs int64  `parquet:"sample_unix_ns"`
	Phase        string `parquet:"phase,dict"`
	Point        string `parquet:"point,dict"`
	Dir          string `parquet:"dir,dict"`
	// FileCount and TotalBytes cover regular files under Dir, recursively.
	FileCount  int64 `parquet:"file_count"`
	TotalBytes int64 `parquet:"total_bytes"`
	// NewestMtimeUnixNs is the newest modification time; nil with no files.
	NewestMtimeUnixNs *int64 `parquet:"newest_mtime_unix_ns,optional"`
	// FilesCreated and FilesRemoved compare this snapshot's files (path and
	// inode) with the previous snapshot's; 0 in the first snapshot.
	FilesCreated int64 `parquet:"files_created"`
	FilesRemoved int64 `parquet:"files_removed"`
	// Filesystem totals from statfs. KVBM unlinks its disk cache file after
	// opening it, so FSUsedBytes sees space that a listing does not.
	FSUsedBytes  *int64 `parquet:"fs_used_bytes,optional"`
	FSTotalBytes *int64 `parquet:"fs_total_bytes,optional"`
	// Error is empty unless the snapshot failed or was cut short.
	Error string `parquet:"error"`
}

// GPUSample is one row of the gpu table: one line of nvidia-smi
// --query-gpu output. Fields the GPU does not report ("[N/A]", as for
// memory on GB10) are nil.
type GPUSample struct {
	RunID string `parquet:"run_id,dict"`
	// SampleUnixNs is when capture read the line; GPUTimestamp is
	// nvidia-smi's own timestamp text, kept as printed.
	SampleUnixNs     int64    `parquet:"sample_unix_ns"`
	GPUTimestamp     string   `parquet:"gpu_timestamp"`
	Phase            string   `parquet:"phase,dict"`
	Point            string   `parquet:"point,dict"`
	GPUIndex         int32    `parquet:"gpu_index"`
	UtilizationPct   *float64 `parquet:"utilization_pct,optional"`
	MemoryUsedBytes  *int64   `parquet:"memory_used_bytes,optional"`
	MemoryTotalBytes *int64   `parquet:"memory_total_bytes,optional"`
	PowerDrawWatts   *float64 `parquet:"power_draw_watts,optional"`
	TemperatureC     *float64 `parquet:"temperature_c,optional"`
}
