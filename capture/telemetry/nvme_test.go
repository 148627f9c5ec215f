package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNVMeParsers(t *testing.T) {
	id, err := ParseNVMeIDCtrl(readFixture(t, "nvme/id-ctrl.json"))
	want := NVMeIdentity{Model: "Samsung SSD 990 PRO 4TB", Serial: "S7DNNJ0X123456K", Firmware: "4B2QJXD7"}
	if err != nil || id != want {
		t.Errorf("ParseNVMeIDCtrl = %+v, %v; want %+v", id, err, want)
	}
	id, err = ParseSmartctlIdentity(readFixture(t, "nvme/smartctl.json"))
	if err != nil || id != want {
		t.Errorf("ParseSmartctlIdentity = %+v, %v; want %+v", id, err, want)
	}
	wantH := SmartHealth{
		TemperatureC: 38, PercentageUsed: 2, DataUnitsRead: 48133512, DataUnitsWritten: 61847219,
		DataReadBytes: 48133512 * 512000, DataWrittenBytes: 61847219 * 512000, PowerOnHours: 3127, UnsafeShutdowns: 19,
	}
	h, err := ParseNVMeSmartLog(readFixture(t, "nvme/smart-log.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantH, h); diff != "" {
		t.Errorf("ParseNVMeSmartLog (-want +got):\n%s", diff)
	}
	h, err = ParseSmartctlHealth(readFixture(t, "nvme/smartctl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantH, h); diff != "" {
		t.Errorf("ParseSmartctlHealth (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{`{"data_units_written":1,"temperature":"37 C","percentage_used":5}`, 37},
		{`{"data_units_written":"1,024","temperature":"310 K"}`, 37},
	} {
		h, err := ParseNVMeSmartLog([]byte(tc.in))
		if err != nil || h.TemperatureC != tc.want {
			t.Errorf("ParseNVMeSmartLog(%s) temperature %v, %v; want %v", tc.in, h.TemperatureC, err, tc.want)
		}
	}
	for _, bad := range []string{`{}`, `not json`, `{"critical_warning":0}`} {
		if _, err := ParseNVMeSmartLog([]byte(bad)); err == nil {
			t.Errorf("ParseNVMeSmartLog(%s) accepted it", bad)
		}
		if _, err := ParseNVMeIDCtrl([]byte(bad)); err == nil {
			t.Errorf("ParseNVMeIDCtrl(%s) accepted it", bad)
		}
	}
}

func fakeSysNVMe(t *testing.T) string {
	sys := t.TempDir()
	d := filepath.Join(sys, "class", "nvme", "nvme0")
	mkdir(t, d)
	write(t, filepath.Join(d, "model"), "Samsung SSD 990 PRO 4TB                 \n")
	write(t, filepath.Join(d, "serial"), "S7DNNJ0X123456K     \n")
	write(t, filepath.Join(d, "firmware_rev"), "4B2QJXD7\n")
	return sys
}

func TestNVMeSamplerFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tools      []string
		nvmeFails  bool
		source     string
		smart      bool
		warnSubstr string
	}{
		{"nvme-cli", []string{"nvme", "smartctl"}, false, "nvme-cli", true, ""},
		{"nvme-cli fails, smartctl", []string{"nvme", "smartctl"}, true, "smartctl", true, "used smartctl"},
		{"smartctl only", []string{"smartctl"}, false, "smartctl", true, "nvme: not installed"},
		{"no tools, sysfs", nil, false, "sysfs", false, "no SMART data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds := fakeCommands(t, tc.tools...)
			if tc.nvmeFails {
				t.Setenv("KVBENCH_FAKE_NVME_FAIL", "1")
			}
			s := NewNVMeSampler(NVMeOptions{Devices: []string{"/dev/nvme0n1"}, SysRoot: fakeSysNVMe(t), Commands: cmds})
			dir := t.TempDir()
			if err := s.Open(context.Background(), dir, "r"); err != nil {
				t.Fatalf("Open: %v (a missing tool must not fail the run)", err)
			}
			s.Mark("x", PointStart)
			rep := s.Close()
			f := rep.Facts["nvme"].(map[string]any)
			if f["source"] != tc.source || f["model"] != "Samsung SSD 990 PRO 4TB" || f["serial"] != "S7DNNJ0X123456K" || f["firmware"] != "4B2QJXD7" {
				t.Errorf("facts %v; want source %s and the drive's identity", f, tc.source)
			}
			if _, err := os.Stat(filepath.Join(dir, NVMeIdentityFile)); err != nil {
				t.Errorf("identity file: %v", err)
			}
			for _, name := range []string{NVMeSmartPreFile, NVMeSmartPostFile} {
				_, err := os.Stat(filepath.Join(dir, name))
				if (err == nil) != tc.smart {
					t.Errorf("%s exists = %v; want %v", name, err == nil, tc.smart)
				}
			}
			if tc.smart {
				pre, ok := f["smart_pre"].(SmartHealth)
				if !ok || pre.DataUnitsWritten != 61847219 || pre.TemperatureC != 38 {
					t.Errorf("smart_pre %+v; want the fixture's health", f["smart_pre"])
				}
				if _, ok := f["smart_post"].(SmartHealth); !ok {
					t.Errorf("no smart_post fact")
				}
			}
			joined := strings.Join(rep.Warnings, "\n")
			if tc.warnSubstr == "" && len(rep.Warnings) > 0 || !strings.Contains(joined, tc.warnSubstr) {
				t.Errorf("warnings %q; want one containing %q", joined, tc.warnSubstr)
			}
			for _, r := range cmds.Records() {
				if r.Argv[len(r.Argv)-1] != "/dev/nvme0n1" {
					t.Errorf("command %v does not end with the device", r.Argv)
				}
			}
		})
	}
}
