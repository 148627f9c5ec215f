package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"

	"kvbench/results"
)

// Files the NVMe sampler writes into the bundle.
const (
	NVMeIdentityFile  = "nvme_identity.json"
	NVMeSmartPreFile  = "nvme_smart_pre.json"
	NVMeSmartPostFile = "nvme_smart_post.json"
)

// NVMeOptions configures the NVMe identity and health sampler.
type NVMeOptions struct {
	// Devices are candidate block devices (names or /dev paths); the first
	// NVMe one is queried. When none is NVMe, the disk holding CacheDir is.
	Devices  []string
	CacheDir string
	// ProcRoot and SysRoot default to /proc and /sys.
	ProcRoot, SysRoot string
	Commands          *Commands
}

// NVMeSampler records the NVMe drive's identity and SMART log when the run
// opens and closes: nvme-cli first, smartctl when nvme-cli is missing or
// fails, sysfs identity when both are unavailable. A missing tool is a
// warning, never a failure.
type NVMeSampler struct {
	opts  NVMeOptions
	ctx   context.Context
	dir   string
	dev   string // /dev/... or ""
	warns []string
	facts map[string]any
}

// NewNVMeSampler returns an NVMe sampler.
func NewNVMeSampler(opts NVMeOptions) *NVMeSampler {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SysRoot == "" {
		opts.SysRoot = "/sys"
	}
	if opts.Commands == nil {
		opts.Commands = &Commands{}
	}
	return &NVMeSampler{opts: opts, facts: map[string]any{}}
}

// Name implements Sampler.
func (s *NVMeSampler) Name() string { return "nvme" }

// Open implements Sampler: it picks the device and takes the "pre"
// identity and SMART snapshot.
func (s *NVMeSampler) Open(ctx context.Context, dir, _ string) error {
	s.ctx, s.dir = ctx, dir
	s.dev = s.pickDevice()
	if s.dev != "" && !validDevicePath(s.dev) {
		s.warn(fmt.Sprintf("nvme: device %q refused", s.dev))
		s.dev = ""
	}
	if s.dev != "" {
		s.facts["device"] = s.dev
	}
	s.collect("pre")
	return nil
}

// pickDevice returns the first NVMe device of --io-device, else the disk
// holding the cache directory when it is NVMe, else "".
func (s *NVMeSampler) pickDevice() string {
	for _, d := range s.opts.Devices {
		if n := deviceName(d); strings.HasPrefix(n, "nvme") {
			return "/dev/" + n
		}
	}
	if s.opts.CacheDir == "" {
		return ""
	}
	fs, err := procfs.NewFS(s.opts.ProcRoot)
	if err != nil {
		return ""
	}
	disk, _, err := ResolveDevice(fs, s.opts.SysRoot, s.opts.CacheDir)
	if err != nil {
		return ""
	}
	if !strings.HasPrefix(disk, "nvme") {
		s.warn(fmt.Sprintf("nvme: --kvbm-cache-dir %s is on %s, not an NVMe device", s.opts.CacheDir, disk))
		return ""
	}
	return "/dev/" + disk
}

// Mark implements Sampler; NVMe health is read before and after the run only.
func (s *NVMeSampler) Mark(string, string) {}

// Close implements Sampler: it takes the "post" SMART snapshot, unless the
// run was interrupted.
func (s *NVMeSampler) Close() Report {
	if s.ctx.Err() != nil {
		s.warn("nvme: post: not read, the run was interrupted")
	} else {
		s.collect("post")
	}
	rep := Report{Warnings: s.warns}
	if len(s.facts) > 0 {
		rep.Facts = map[string]any{"nvme": s.facts}
	}
	return rep
}

func (s *NVMeSampler) warn(msg string) { s.warns = append(s.warns, msg) }

// collect reads identity ("pre" only) and SMART health: nvme-cli first,
// then smartctl, and for the identity sysfs when both fail.
func (s *NVMeSampler) collect(when string) {
	if s.dev == "" {
		if when == "pre" {
			s.warn("nvme: no NVMe device to query (give --io-device or --kvbm-cache-dir on an NVMe disk)")
			s.sysfsIdentity()
		}
		return
	}
	cliErr := s.fromNVMeCLI(when)
	if cliErr == nil {
		return
	}
	if err := s.fromSmartctl(when); err != nil {
		s.warn(fmt.Sprintf("nvme: %s: no SMART data for %s: nvme-cli: %v; smartctl: %v", when, s.dev, cliErr, err))
		if when == "pre" {
			s.sysfsIdentity()
		}
		return
	}
	s.warn(fmt.Sprintf("nvme: %s: nvme-cli unavailable (%v); used smartctl", when, cliErr))
}

func smartFile(when string) string {
	if when == "post" {
		return NVMeSmartPostFile
	}
	return NVMeSmartPreFile
}

// fromNVMeCLI reads identity and health with nvme-cli.
func (s *NVMeSampler) fromNVMeCLI(when string) error {
	cmds := s.opts.Commands
	if when == "pre" {
		res, err := cmds.Run(s.ctx, 0, 1<<20, "nvme", "id-ctrl", "-o", "json", s.dev)
		if err == nil {
			err = s.identity(res.Stdout, "nvme-cli", ParseNVMeIDCtrl)
		}
		if err != nil {
			return err
		}
	}
	res, err := cmds.Run(s.ctx, 0, 1<<20, "nvme", "smart-log", "-o", "json", s.dev)
	if err != nil {
		return err
	}
	return s.smartFrom(when, res.Stdout, "nvme-cli", ParseNVMeSmartLog)
}

// fromSmartctl reads identity and health from one smartctl document.
// smartctl's exit status is a bit mask; the JSON is usable unless it is
// empty.
func (s *NVMeSampler) fromSmartctl(when string) error {
	res, err := s.opts.Commands.Run(s.ctx, 0, 4<<20, "smartctl", "--json", "-a", s.dev)
	if len(bytes.TrimSpace(res.Stdout)) == 0 {
		if err == nil {
			err = errors.New("smartctl printed nothing")
		}
		return err
	}
	if when == "pre" {
		if err := s.identity(res.Stdout, "smartctl", ParseSmartctlIdentity); err != nil {
			return err
		}
	}
	return s.smartFrom(when, res.Stdout, "smartctl", ParseSmartctlHealth)
}

// sysfsIdentity records the controllers sysfs lists, when no tool could.
func (s *NVMeSampler) sysfsIdentity() {
	ctrls := SysfsNVMe(s.opts.SysRoot)
	if len(ctrls) == 0 {
		s.warn("nvme: no NVMe controller in sysfs")
		return
	}
	s.facts["source"] = "sysfs"
	s.facts["controllers"] = ctrls
	c := ctrls[0]
	s.facts["model"], s.facts["serial"], s.facts["firmware"] = c.Model, c.Serial, c.Firmware
	data, _ := json.MarshalIndent(map[string]any{"source": "sysfs", "controllers": ctrls}, "", "  ")
	s.save(NVMeIdentityFile, append(data, '\n'))
}

func (s *NVMeSampler) save(name string, data []byte) {
	if err := results.WriteFileAtomic(filepath.Join(s.dir, name), data); err != nil {
		s.warn(fmt.Sprintf("nvme: write %s: %v", name, err))
	}
}

// identity parses raw with parse and, when it holds an identity, keeps
// the document and the facts.
func (s *NVMeSampler) identity(raw []byte, source string, parse func([]byte) (NVMeIdentity, error)) error {
	id, err := parse(raw)
	if err != nil {
		return err
	}
	s.save(NVMeIdentityFile, raw)
	s.facts["source"] = source
	s.facts["model"], s.facts["serial"], s.facts["firmware"] = id.Model, id.Serial, id.Firmware
	return nil
}

func (s *NVMeSampler) smartFrom(when string, raw []byte, source string, parse func([]byte) (SmartHealth, error)) error {
	h, err := parse(raw)
	if err != nil {
		return err
	}
	s.save(smartFile(when), raw)
	s.facts["smart_"+when] = h
	s.facts["smart_source"] = source
	return nil
}

// NVMeIdentity is the identity of an NVMe controller.
type NVMeIdentity struct {
	Controller string `json:"controller,omitempty"`
	Model      string `json:"model"`
	Serial     string `json:"serial"`
	Firmware   string `json:"firmware"`
}

// SmartHealth holds the key NVMe health fields. Data units are thousands
// of 512-byte units, as the drive reports them; the _bytes fields convert.
type SmartHealth struct {
	CriticalWarning  int64   `json:"critical_warning"`
	TemperatureC     float64 `json:"temperature_c"`
	PercentageUsed   int64   `json:"percentage_used"`
	DataUnitsRead    int64   `json:"data_units_read"`
	DataUnitsWritten int64   `json:"data_units_written"`
	DataReadBytes    int64   `json:"data_read_bytes"`
	DataWrittenBytes int64   `json:"data_written_bytes"`
	MediaErrors      int64   `json:"media_errors"`
	PowerOnHours     int64   `json:"power_on_hours"`
	UnsafeShutdowns  int64   `json:"unsafe_shutdowns"`
}

// ParseNVMeIDCtrl reads `nvme id-ctrl -o json` (fields mn, sn, fr, padded
// with spaces by the drive).
func ParseNVMeIDCtrl(raw []byte) (NVMeIdentity, error) {
	var v struct {
		MN, SN, FR string
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return NVMeIdentity{}, fmt.Errorf("nvme id-ctrl json: %w", err)
	}
	v.MN, _ = m["mn"].(string)
	v.SN, _ = m["sn"].(string)
	v.FR, _ = m["fr"].(string)
	if v.MN == "" && v.SN == "" {
		return NVMeIdentity{}, errors.New("nvme id-ctrl json: no mn or sn field")
	}
	return NVMeIdentity{Model: strings.TrimSpace(v.MN), Serial: strings.TrimSpace(v.SN), Firmware: strings.TrimSpace(v.FR)}, nil
}

// ParseNVMeSmartLog reads `nvme smart-log -o json`. nvme-cli reports the
// composite temperature in kelvin; "percent_used" is also accepted as
// "percentage_used", and 128-bit counters as numbers or strings.
func ParseNVMeSmartLog(raw []byte) (SmartHealth, error) {
	m, err := decodeNumbers(raw)
	if err != nil {
		return SmartHealth{}, fmt.Errorf("nvme smart-log json: %w", err)
	}
	if _, ok := m["data_units_written"]; !ok {
		return SmartHealth{}, errors.New("nvme smart-log json: no data_units_written field")
	}
	h := SmartHealth{
		CriticalWarning:  jsonInt(m["critical_warning"]),
		PercentageUsed:   jsonInt(firstOf(m, "percent_used", "percentage_used")),
		DataUnitsRead:    jsonInt(m["data_units_read"]),
		DataUnitsWritten: jsonInt(m["data_units_written"]),
		MediaErrors:      jsonInt(m["media_errors"]),
		PowerOnHours:     jsonInt(m["power_on_hours"]),
		UnsafeShutdowns:  jsonInt(m["unsafe_shutdowns"]),
	}
	h.TemperatureC = temperatureC(m["temperature"])
	h.DataReadBytes, h.DataWrittenBytes = h.DataUnitsRead*512000, h.DataUnitsWritten*512000
	return h, nil
}

// ParseSmartctlIdentity reads model, serial and firmware from
// `smartctl --json -a`.
func ParseSmartctlIdentity(raw []byte) (NVMeIdentity, error) {
	var v struct {
		Model    string `json:"model_name"`
		Serial   string `json:"serial_number"`
		Firmware string `json:"firmware_version"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return NVMeIdentity{}, fmt.Errorf("smartctl json: %w", err)
	}
	if v.Model == "" && v.Serial == "" {
		return NVMeIdentity{}, errors.New("smartctl json: no model_name or serial_number")
	}
	return NVMeIdentity{Model: v.Model, Serial: v.Serial, Firmware: v.Firmware}, nil
}

// ParseSmartctlHealth reads nvme_smart_health_information_log from
// `smartctl --json -a` (temperature in Celsius there).
func ParseSmartctlHealth(raw []byte) (SmartHealth, error) {
	top, err := decodeNumbers(raw)
	if err != nil {
		return SmartHealth{}, fmt.Errorf("smartctl json: %w", err)
	}
	m, ok := top["nvme_smart_health_information_log"].(map[string]any)
	if !ok {
		return SmartHealth{}, errors.New("smartctl json: no nvme_smart_health_information_log")
	}
	h := SmartHealth{
		CriticalWarning:  jsonInt(m["critical_warning"]),
		PercentageUsed:   jsonInt(m["percentage_used"]),
		DataUnitsRead:    jsonInt(m["data_units_read"]),
		DataUnitsWritten: jsonInt(m["data_units_written"]),
		MediaErrors:      jsonInt(m["media_errors"]),
		PowerOnHours:     jsonInt(m["power_on_hours"]),
		UnsafeShutdowns:  jsonInt(m["unsafe_shutdowns"]),
	}
	h.TemperatureC = float64(jsonInt(m["temperature"]))
	h.DataReadBytes, h.DataWrittenBytes = h.DataUnitsRead*512000, h.DataUnitsWritten*512000
	return h, nil
}

// SysfsNVMe lists the NVMe controllers under <sysRoot>/class/nvme with
// their model, serial and firmware_rev, sorted by controller name.
func SysfsNVMe(sysRoot string) []NVMeIdentity {
	ents, err := os.ReadDir(filepath.Join(sysRoot, "class", "nvme"))
	if err != nil {
		return nil
	}
	var out []NVMeIdentity
	for _, e := range ents {
		d := filepath.Join(sysRoot, "class", "nvme", e.Name())
		read := func(f string) string {
			b, _ := os.ReadFile(filepath.Join(d, f))
			return strings.TrimSpace(string(b))
		}
		id := NVMeIdentity{Controller: e.Name(), Model: read("model"), Serial: read("serial"), Firmware: read("firmware_rev")}
		if id.Model != "" || id.Serial != "" {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Controller < out[j].Controller })
	return out
}

func decodeNumbers(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func firstOf(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// jsonInt reads a JSON number or numeric string (with optional thousands
// separators) as int64; 0 when absent or not a number.
func jsonInt(v any) int64 {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.ReplaceAll(strings.TrimSpace(x), ",", "")
	default:
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int64(f)
	}
	return 0
}

// temperatureC converts nvme-cli's temperature: a number in kelvin, or a
// string such as "37 C" / "310 K" in some versions. Kelvin → Celsius is
// -273, as nvme-cli itself prints it.
func temperatureC(v any) float64 {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		if f > 200 {
			return f - 273
		}
		return f
	case string:
		fields := strings.Fields(x)
		if len(fields) == 0 {
			return 0
		}
		f, err := strconv.ParseFloat(strings.TrimRight(fields[0], "°CK"), 64)
		if err != nil {
			return 0
		}
		if strings.Contains(x, "K") || (f > 200 && !strings.Contains(x, "C")) {
			return f - 273
		}
		return f
	}
	return 0
}
