package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestChatCompletions(t *testing.T) {
	cfg := testConfig(t, KVModeCPUOnly)
	srv := startServer(t, cfg)
	defer stopServer(t, srv)
	client := &http.Client{}
	postChat := func(body string) (int, []byte) {
		resp, err := client.Post("http://"+srv.Addrs().API+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	model, _ := json.Marshal(cfg.Model)
	msgs := `[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"one two three"}]}]`

	code, body := postChat(`{"model":` + string(model) + `,"messages":` + msgs + `,"max_completion_tokens":3}`)
	if code != 200 {
		t.Fatalf("unary: %d %s", code, body)
	}
	var unary struct {
		Object  string
		Choices []struct {
			Message struct{ Role, Content string }
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal(body, &unary); err != nil {
		t.Fatalf("unary body %s: %v", body, err)
	}
	// "be brief\none two three" is 5 words.
	if unary.Object != "chat.completion" || unary.Choices[0].Message.Role != "assistant" ||
		len(strings.Fields(unary.Choices[0].Message.Content)) != 3 || unary.Usage.PromptTokens != 5 || unary.Usage.CompletionTokens != 3 {
		t.Errorf("unary chat response %s", body)
	}

	code, body = postChat(`{"model":` + string(model) + `,"messages":` + msgs + `,"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}`)
	if code != 200 {
		t.Fatalf("stream: %d %s", code, body)
	}
	evs := sseEvents(body)
	if len(evs) != 6 || evs[5][0] != "data: [DONE]" {
		t.Fatalf("stream events %q", evs)
	}
	var content strings.Builder
	for i, ev := range evs[:4] {
		var ch struct {
			Object  string
			Choices []struct {
				Delta struct{ Role, Content string }
			}
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev[0], "data: ")), &ch); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if ch.Object != "chat.completion.chunk" || (i == 0) != (ch.Choices[0].Delta.Role == "assistant") {
			t.Errorf("chunk %d: %s", i, ev[0])
		}
		content.WriteString(ch.Choices[0].Delta.Content)
	}
	if len(strings.Fields(content.String())) != 4 || !bytes.Contains([]byte(evs[4][0]), []byte(`"choices":[]`)) {
		t.Errorf("content %q usage event %s", content.String(), evs[4][0])
	}
	if code, body = postChat(`{"model":` + string(model) + `,"messages":[{"role":"user","content":7}]}`); code != 400 {
		t.Errorf("bad content: %d %s", code, body)
	}
}
