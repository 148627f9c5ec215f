// Package telemetry is the part of kvbench's capture stage that observes
// the server and the machine around a run, so analyze can tell which tier
// served the KV cache: Prometheus scrapes of the KVBM, worker and frontend
// endpoints, block-device, process and cgroup I/O counters, NVMe identity
// and SMART health, cache-directory churn, nvidia-smi samples and
// container logs. Package capture opens the samplers Options asks for,
// marks every phase boundary and closes them; each sampler writes its own
// tables of the run bundle through package results (the only package of
// ours it imports). External commands (docker, nvme, smartctl,
// nvidia-smi) run through Commands: no shell, bounded time and output,
// every run logged in the bundle.
package telemetry
