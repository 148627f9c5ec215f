// Package sim is the simulated Dynamo + TensorRT-LLM + KVBM target used by
// `capture sim`, by the tests of every other package and by demos. It serves
// an OpenAI-compatible API whose timing follows a stated cost model and whose
// KV cache follows a model of KVBM's tiers, and it exposes the same metric
// families as the real stack on the same three ports, so that capture and
// analyze can be checked against a target whose truth is known.
//
// It sits beside the pipeline, not in it: sim imports no other kvbench
// package, and nothing in the pipeline imports sim except tests and the
// `capture sim` command.
//
// # Endpoints
//
// The API port (default 127.0.0.1:8000) serves GET /v1/models,
// POST /v1/completions (JSON and SSE streaming), GET /health, GET /live and
// GET /metrics with the dynamo_frontend_* families. The KVBM port (default
// 127.0.0.1:6880) serves GET /metrics with the 13 kvbm_* v1 families. The
// system port (default 127.0.0.1:8081) serves GET /metrics with the worker
// dynamo_component_* families, plus /health and /live. Error bodies use
// Dynamo's shape {"message":..,"type":..,"code":..}.
//
// The KVBM port is served in every KV mode, with all 13 families at zero
// when there is no G2 (off), as a KVBM leader does before its first
// transfer; a real B0 deployment has no KVBM at all, which
// Faults.KVBMDown = 1 reproduces (the port is not opened).
//
// # Tokenization
//
// A prompt's tokens are its whitespace-separated words, exactly as
// strings.Fields splits them (Unicode white space). The id of a token is the
// 64-bit FNV-1a hash of the word's bytes. usage.prompt_tokens is the number of
// words, so a prompt generator can hit an exact token count by emitting that
// many words.
//
// # Blocks and tiers
//
// The token ids are cut into blocks of Config.BlockTokens (TRT-LLM's
// tokens_per_block, default 32); a trailing partial block is never cached,
// as TRT-LLM's KVBM leader only matches full blocks. The identity of block i
// is hash(hash of block i-1, token ids of block i) (FNV-1a 64 over the
// little-endian bytes), so a block is shared only by prompts with the same
// whole prefix.
//
// Three tiers hold blocks, each an LRU list with a capacity in blocks: G1
// (GPU pool, Config.GPUBlocks), G2 (host, Config.CPUBlocks) and G3 (disk,
// Config.DiskBlocks). Config.KVMode selects which exist: off = G1,
// cpu_only = G1+G2, cpu_disk = G1+G2+G3. Capacities in decimal GB convert as
// KVBM's leader does: blocks = floor(GB * 1e9 / bytes_per_block) with
// bytes_per_block = BytesPerToken * BlockTokens (default 131072 * 32 = 4 MiB);
// an OVERRIDE_NUM_BLOCKS value wins over GB (see Config.ApplyKVBMEnv).
//
// A request is served in these steps (KVCache.Admit):
//
//  1. Lookup. g1 = the longest run of the prompt's blocks, from the start,
//     that is resident in G1 (the GPU prefix cache; free). From there KVBM is
//     asked: g2 = the longest following run resident in G2, then g3 = the
//     longest following run resident in G3. The remaining blocks (and the
//     partial tail) are recomputed. A block in both G2 and G3 counts as G2.
//  2. Counting, at request time as KVBM counts when it enqueues a transfer:
//     kvbm_onboard_blocks_h2d += g2, kvbm_onboard_blocks_d2d += g3,
//     kvbm_matched_tokens += (g2+g3)*BlockTokens. The hit-rate window gets
//     (queried = blocks - g1, host hits = g2, disk hits = g3); requests with
//     no queried block are skipped, as KVBM does.
//  3. Frequency. Every full block of the prompt is "seen": the disk filter's
//     frequency starts at 1 the first time a block is seen and doubles on
//     every later sighting (KVBM's FrequencyFilter), remembered even after the
//     block has left every tier.
//  4. Residency. All prompt blocks become most recently used in G1 (evicting
//     G1's least recently used blocks, which simply leave G1). Every
//     recomputed block is written through to G2 (kvbm_offload_blocks_d2h, once
//     per block not already in G2), evicting G2's LRU blocks. In cpu_disk mode
//     every prompt block that is in G2 and not yet on disk is written through
//     to G3 (kvbm_offload_blocks_h2d) if its frequency is at least 2 — that
//     is, it has been seen twice — or unconditionally when the filter is
//     disabled (DYN_KVBM_DISABLE_DISK_OFFLOAD_FILTER). G3 evicts its LRU
//     blocks and deletes their files. Blocks onboarded from G3 go straight to
//     G1 (disk to device, as KVBM v1 does) and are not copied into G2.
//
// Each tier is therefore inclusive write-through, as KVBM is: a block leaving
// G1 is still found in G2 if G2 still holds it, and a block leaving G2 is
// found in G3 if it was admitted there.
//
// usage.prompt_tokens_details.cached_tokens (and the
// dynamo_frontend_cached_tokens histogram) is (g1+g2+g3)*BlockTokens: every
// token that was not prefilled again.
//
// G3 is backed by real files: one file of Config.DiskBlockFileBytes per block
// (default 64 KiB, so a laptop is not filled; a real block is 4 MiB) under a
// directory the simulator creates inside Config.DiskCacheDir (default the
// system temp dir) and removes on shutdown. Admission writes the file,
// onboarding reads it back, eviction deletes it, so /proc/<pid>/io and
// /proc/diskstats see real traffic. One goroutine performs all file
// operations in order. Reads may be served by the page cache; KVBM itself
// uses O_DIRECT.
//
// # Time
//
// CostModel turns the work of a request into durations; Costs is the linear
// model behind the presets (see Preset and the Costs fields for every
// coefficient and its source):
//
//	TTFT = queueing + Overhead + max(PrefillFloor, PrefillPerToken*uncached)
//	       + OnboardG2PerToken*g2*BlockTokens + OnboardG3PerToken*g3*BlockTokens
//	inter-token = DecodePerToken + DecodePerSeq*(running-1)
//
// where uncached = prompt tokens - (g1+g2+g3)*BlockTokens and running is the
// number of sequences in the batch when the token is produced. At most
// Config.MaxBatch requests are in the batch; the rest wait in FIFO order, and
// that wait is the queueing term. Config.TimeScale multiplies every cost
// (0.1 makes a demo ten times faster). Non-stream responses are written only
// when the whole generation is over, so their first byte comes at the full
// latency, as with a real server.
//
// # Ground truth
//
// With Config.GroundTruth set, one JSON object per finished request is
// written (by a single goroutine, buffered, flushed on shutdown) with the
// completion id, the X-Request-Id header, the blocks taken from each tier and
// recomputed, the stamps of receipt, first token and end, the HTTP status and
// the fault injected; see GroundTruth.
//
// # Faults
//
// Config.Faults gives a probability to each fault; every request draws one
// number from an RNG seeded with Config.Seed and gets at most one fault. See
// Fault for what each does.
package sim
