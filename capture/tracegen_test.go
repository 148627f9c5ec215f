package capture

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseDist(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		in      string
		lo, hi  int
		wantErr bool
	}{
		{"7", 7, 7, false}, {"fixed:3", 3, 3, false}, {"uniform:2:5", 2, 5, false}, {"exp:10", 0, 1000, false},
		{"uniform:5:2", 0, 0, true}, {"normal:1:2", 0, 0, true}, {"fixed:-1", 0, 0, true}, {"uniform:1", 0, 0, true}, {"", 0, 0, true},
	} {
		d, err := ParseDist(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("ParseDist(%q) error %v; want error %v", c.in, err, c.wantErr)
			continue
		}
		for i := 0; err == nil && i < 100; i++ {
			if v := d.Sample(rng); v < c.lo || v > c.hi {
				t.Errorf("%s sampled %d outside [%d, %d]", c.in, v, c.lo, c.hi)
			}
		}
	}
}

// TestTraceGen: the generator is deterministic, its output reads back
// as a trace, every request after the first Sessions continues a session
// at the drawn distance, and the timestamps keep the rate.
func TestTraceGen(t *testing.T) {
	g := TraceGen{Requests: 200, Sessions: 11, SystemBlocks: 1, PrefixBlocks: 3, BlockTokens: 64, Rate: 50, Burstiness: 1, Seed: 9}
	g.SuffixTokens, _ = ParseDist("uniform:10:100")
	g.OutputTokens, _ = ParseDist("4")
	g.ReuseDistance, _ = ParseDist("uniform:8:12")
	var a, b bytes.Buffer
	if err := g.Write(&a); err != nil {
		t.Fatal(err)
	}
	g.Write(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same parameters wrote different traces")
	}
	tr, err := ReadTrace(bytes.NewReader(a.Bytes()), TraceOptions{BlockTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Records) != 200 {
		t.Fatalf("%d records", len(tr.Records))
	}
	seen := seenBlocks(tr.Records)
	var dists []int
	for i, r := range tr.Records {
		if r.InputLength < 4*64+10 || r.InputLength > 4*64+100 || r.OutputLength != 4 || len(r.HashIDs) != r.Blocks(64) {
			t.Fatalf("record %d: %+v", i, r)
		}
		if r.HashIDs[0] != tr.Records[0].HashIDs[0] {
			t.Fatalf("record %d does not share the system block", i)
		}
		switch {
		case i == 0 && seen[i] != 0, i > 0 && i < 11 && seen[i] != 1, i >= 11 && seen[i] != 4:
			t.Fatalf("record %d: %d blocks seen", i, seen[i])
		}
		if i >= 11 {
			for j := i - 1; j >= 0; j-- {
				if tr.Records[j].HashIDs[1] == r.HashIDs[1] {
					dists = append(dists, i-j-1)
					break
				}
			}
		}
	}
	// With 11 sessions and distances of 8-12 (mean 10) sessions come back
	// as drawn, give or take the order of ties.
	sum := 0
	for _, d := range dists {
		sum += d
		if d < 4 || d > 16 {
			t.Errorf("reuse distance %d; want about 8-12", d)
		}
	}
	if mean := float64(sum) / float64(len(dists)); mean < 9 || mean > 11 {
		t.Errorf("mean reuse distance %.2f; want about 10", mean)
	}
	span := tr.Records[199].TimestampMs / 1000
	if rate := 199 / span; rate < 40 || rate > 62 {
		t.Errorf("rate %.1f/s; want about 50", rate)
	}
	g.Sessions = 0
	if err := g.Write(&b); err == nil || !strings.Contains(err.Error(), "--sessions") {
		t.Errorf("zero sessions: %v", err)
	}
}
