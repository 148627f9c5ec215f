package capture

import (
	"bytes"
	"errors"
	"io"
	"kvbench/results"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type ev struct{ Event, Data, Comment, ErrField string }

// readAll reads every event of in through r (the whole string when r is
// nil), recording an error event's comments and an error field.
func readAll(in string, r io.Reader) ([]ev, error) {
	if r == nil {
		r = strings.NewReader(in)
	}
	sr := newSSEReader(r)
	var out []ev
	for {
		e, d, err := sr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		x := ev{Event: string(e), Data: string(d)}
		if x.Event == "error" {
			x.Comment = string(sr.comment)
		}
		if sr.hasErr {
			x.ErrField = string(sr.errField)
		}
		out = append(out, x)
	}
}

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []ev
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{Data: "a"}, {Data: "b"}}},
		{"crlf", "data: a\r\n\r\ndata: [DONE]\r\n\r\n", []ev{{Data: "a"}, {Data: "[DONE]"}}},
		{"lone cr", "data: a\r\rdata: b\r\r", []ev{{Data: "a"}, {Data: "b"}}},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", []ev{{Data: "a\nb\nc"}}},
		{"multiline", "data: a\ndata: b\n\n", []ev{{Data: "a\nb"}}},
		{"empty data line joins", "data:\ndata: x\n\n", []ev{{Data: "\nx"}}},
		{"empty data dispatches", "data\n\n", []ev{{Data: ""}}},
		{"no space", "data:x\n\n", []ev{{Data: "x"}}},
		{"two spaces keep one", "data:  x\n\n", []ev{{Data: " x"}}},
		{"comments", ": keep-alive\n\n: hi\ndata: a\n\n", []ev{{Data: "a"}}},
		{"bom", "\xef\xbb\xbfdata: a\n\n", []ev{{Data: "a"}}},
		{"unknown field ignored", "foo: bar\ndata: a\nHTTP/1.1 500\n\n", []ev{{Data: "a"}}},
		{"field name is case sensitive", "Data: a\n\ndata: b\n\n", []ev{{Data: "b"}}},
		{"named event without data dropped", "event: request_id\n: \"abc\"\n\ndata: a\n\n", []ev{{Data: "a"}}},
		{"error event with comment", "event: error\n: upstream failed\n\ndata: [DONE]\n\n",
			[]ev{{Event: "error", Comment: "upstream failed"}, {Data: "[DONE]"}}},
		{"error event with data", "event: error\ndata: {\"code\":400}\n\n", []ev{{Event: "error", Data: `{"code":400}`}}},
		{"error field", "error: {\"message\":\"too long\"}\n\ndata: [DONE]\n\n",
			[]ev{{ErrField: `{"message":"too long"}`}, {Data: "[DONE]"}}},
		{"event type resets", "event: x\ndata: a\n\ndata: b\n\n", []ev{{Event: "x", Data: "a"}, {Data: "b"}}},
		{"id and retry", "id: 7\nretry: 10\ndata: a\n\n", []ev{{Data: "a"}}},
		{"leading blank lines", "\n\n\ndata: a\n\n", []ev{{Data: "a"}}},
		{"no final blank line", "data: a\n", []ev{{Data: "a"}}},
		{"no final line end", "data: a\n\ndata: [DONE]", []ev{{Data: "a"}, {Data: "[DONE]"}}},
		{"trailing comment only", "data: a\n\n: bye", []ev{{Data: "a"}}},
		{"long line", "data: " + strings.Repeat("x", 40000) + "\n\n", []ev{{Data: strings.Repeat("x", 40000)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "bytewise"} {
				var r io.Reader
				if mode == "bytewise" {
					r = iotest.OneByteReader(strings.NewReader(c.in))
				}
				got, err := readAll(c.in, r)
				if err != nil {
					t.Fatalf("%s: err = %v", mode, err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("%s: events (-want +got):\n%s", mode, diff)
				}
			}
		})
	}
}

// TestSSEReaderReadError passes a read error other than the end of the
// stream through, after the events before it.
func TestSSEReaderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	got, err := readAll("", r)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want %v", err, boom)
	}
	if diff := cmp.Diff([]ev{{Data: "a"}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// referenceSSE is the WHATWG event-stream algorithm written out plainly
// (whole input, string operations), with the reader's three documented
// extensions: error events without data, the error field, and the last
// event at the end of the stream.
func referenceSSE(in string) []ev {
	in = strings.TrimPrefix(in, "\ufeff")
	var lines []string
	start := 0
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\n':
			lines = append(lines, in[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, in[start:i])
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	complete := len(lines)
	if start < len(in) {
		lines = append(lines, in[start:])
	}
	var out []ev
	var typ, data, comment, errField string
	hasData, hasErr := false, false
	flush := func() {
		if hasData || hasErr || typ == "error" {
			e := ev{Event: typ, Data: strings.TrimSuffix(data, "\n")}
			if typ == "error" {
				e.Comment = comment
			}
			if hasErr {
				e.ErrField = errField
			}
			out = append(out, e)
		}
		typ, data, comment, errField, hasData, hasErr = "", "", "", "", false, false
	}
	for n, line := range lines {
		switch {
		case line == "" && n < complete:
			flush()
			continue
		case strings.HasPrefix(line, ":"):
			if len(comment) < 1024 {
				if comment != "" {
					comment += " "
				}
				comment += string(bytes.TrimSpace([]byte(line[1:])))
			}
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "data":
			data += value + "\n"
			hasData = true
		case "event":
			typ = value
		case "error":
			errField, hasErr = value, true
		}
	}
	flush()
	return out
}

func FuzzSSEReader(f *testing.F) {
	f.Add("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n", uint8(0))
	f.Add("event: error\r\n: x\r\n\r\n", uint8(1))
	f.Add("data:\ndata:\n\n", uint8(2))
	f.Add("data: a\r\rdata: b\r", uint8(3))
	f.Add("\xef\xbb\xbferror: {}\n\nevent: x\n: c\n\ndata: [DONE]", uint8(5))
	f.Fuzz(func(t *testing.T, in string, chunk uint8) {
		want := referenceSSE(in)
		var r io.Reader = strings.NewReader(in)
		if chunk%4 != 0 {
			r = &chunkReader{s: in, n: int(chunk%4) + int(chunk/4)%7}
		}
		got, err := readAll(in, r)
		if err != nil {
			t.Fatalf("err = %v on %q", err, in)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("reader differs from the reference on %q (-want +got):\n%s", in, diff)
		}
	})
}

// chunkReader returns s in reads of at most n bytes.
type chunkReader struct {
	s string
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.s) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.s))
	copy(p, c.s[:k])
	c.s = c.s[k:]
	return k, nil
}

func TestScannedText(t *testing.T) {
	cases := map[string]bool{
		`{"choices":[{"text":"a"}]}`:                                true,
		`{"choices":[{"text":""}]}`:                                 false,
		`{"choices":[{"text": "\n"}]}`:                              true,
		`{"choices":[],"usage":{"prompt_tokens":3}}`:                false,
		`{"choices":[{"delta":{"content":"hi"}}]}`:                  true,
		`{"choices":[{"delta":{"role":"assistant","content":""}}]}`: false,
		`{"id":"x","choices":[{"text":"","index":0},{"text":"b"}]}`: true,
		`{"choices":[{"text" :  "a"}]}`:                             true,
		`{"type":"text","choices":[]}`:                              false,
		`{"choices":[{"text":null}]}`:                               false,
		`{"choices":[{"text":"\"quoted\""}]}`:                       true,
	}
	for in, want := range cases {
		if got := newStreamState(&results.Request{}, false).scanned([]byte(in)); got != want {
			t.Errorf("scanned(%s) = %v; want %v", in, got, want)
		}
	}
}

func BenchmarkSSEStream(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 256; i++ {
		sb.WriteString(`data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" word","finish_reason":null}],"usage":null}` + "\n\n")
	}
	sb.WriteString("data: [DONE]\n\n")
	stream := sb.String()
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for i := 0; i < b.N; i++ {
		r := newSSEReader(strings.NewReader(stream))
		st := newStreamState(&results.Request{}, false)
		for {
			_, d, err := r.next()
			if err != nil {
				b.Fatal(err)
			}
			if string(d) == "[DONE]" {
				break
			}
			st.scanned(d)
		}
	}
}
