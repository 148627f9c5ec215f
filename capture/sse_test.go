package capture

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type ev struct{ Event, Data string }

func readAll(t *testing.T, in string) ([]ev, error) {
	t.Helper()
	r := newSSEReader(strings.NewReader(in))
	var out []ev
	for {
		e, d, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, ev{string(e), string(d)})
	}
}

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []ev
		err  error
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{"", "a"}, {"", "b"}}, nil},
		{"crlf", "data: a\r\n\r\ndata: [DONE]\r\n\r\n", []ev{{"", "a"}, {"", "[DONE]"}}, nil},
		{"multiline", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}, nil},
		{"empty data line joins", "data:\ndata: x\n\n", []ev{{"", "\nx"}}, nil},
		{"no space", "data:x\n\n", []ev{{"", "x"}}, nil},
		{"comments", ": keep-alive\n\n: hi\ndata: a\n\n", []ev{{"", "a"}}, nil},
		{"named event", "event: error\n: upstream failed\n\n", []ev{{"error", ""}}, nil},
		{"id and retry", "id: 7\nretry: 10\ndata: a\n\n", []ev{{"", "a"}}, nil},
		{"leading blank lines", "\n\n\ndata: a\n\n", []ev{{"", "a"}}, nil},
		{"no final blank line", "data: a\n", []ev{{"", "a"}}, nil},
		{"partial last line", "data: a\n\ndata: b", []ev{{"", "a"}}, io.ErrUnexpectedEOF},
		{"garbage field", "data: a\n\nHTTP/1.1 500\n\n", []ev{{"", "a"}}, errSSELine},
		{"long line", "data: " + strings.Repeat("x", 40000) + "\n\n", []ev{{"", strings.Repeat("x", 40000)}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, c.in)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v; want %v", err, c.err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzSSEReader(f *testing.F) {
	f.Add("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n")
	f.Add("event: error\r\n: x\r\n\r\n")
	f.Add("data:\ndata:\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := newSSEReader(strings.NewReader(in))
		for i := 0; i < len(in)+2; i++ {
			_, d, err := r.next()
			if err != nil {
				return
			}
			if len(d) > len(in) {
				t.Fatalf("data longer than input")
			}
		}
		t.Fatalf("reader did not terminate on %q", in)
	})
}

func TestHasText(t *testing.T) {
	cases := map[string]bool{
		`{"choices":[{"text":"a"}]}`:                                true,
		`{"choices":[{"text":""}]}`:                                 false,
		`{"choices":[{"text": "\n"}]}`:                              true,
		`{"choices":[],"usage":{"prompt_tokens":3}}`:                false,
		`{"choices":[{"delta":{"content":"hi"}}]}`:                  true,
		`{"choices":[{"delta":{"role":"assistant","content":""}}]}`: false,
		`{"id":"x","choices":[{"text":"","index":0},{"text":"b"}]}`: true,
	}
	for in, want := range cases {
		if got := hasText([]byte(in)); got != want {
			t.Errorf("hasText(%s) = %v; want %v", in, got, want)
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
		for {
			_, d, err := r.next()
			if err != nil {
				b.Fatal(err)
			}
			if string(d) == "[DONE]" {
				break
			}
			hasText(d)
		}
	}
}
