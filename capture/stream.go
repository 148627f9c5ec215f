package capture

import (
	"bytes"
	"encoding/json"
	"strings"

	"kvbench/results"
)

// This file reads the JSON of completion chunks. Most chunks need three
// facts: whether they carry text, the text itself (hashed for the KV
// integrity check) and whether a choice finished. A byte scan finds those
// without decoding; the full decode runs only for the first chunk (the
// completion id), a chunk with a usage object, a chunk that may be an error,
// and every chunk when response text is kept. decodeAll turns the scan off
// (tests compare both ways on every fixture).

// streamState accumulates one streamed response.
type streamState struct {
	rec      *results.Request
	keepText bool
	// decodeAll decodes every chunk fully instead of scanning it.
	decodeAll bool
	text      strings.Builder
	hash      uint64
	finish    string // the last non-null finish_reason
}

func newStreamState(rec *results.Request, keepText bool) *streamState {
	return &streamState{rec: rec, keepText: keepText, hash: fnvOffset}
}

// chunkBody is the full decode of a completion or chat chunk.
type chunkBody struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Text  *string `json:"text"`
		Delta *struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *usage          `json:"usage"`
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
}

// chunk reads one data payload that is not [DONE]. It returns false when
// the payload ends the request with an error (recorded in rec).
func (st *streamState) chunk(data []byte, now int64) bool {
	rec := st.rec
	if !json.Valid(data) {
		rec.ErrorKind, rec.Error = results.ErrProtocol, "malformed SSE data: "+truncate(string(data), 120)
		return false
	}
	full := st.decodeAll || st.keepText || rec.CompletionID == "" ||
		bytes.Contains(data, []byte(`"error"`)) || valueStart(data, "usage") == '{'
	var content bool
	if full {
		var cb chunkBody
		if err := json.Unmarshal(data, &cb); err != nil {
			rec.ErrorKind, rec.Error = results.ErrProtocol, "decode SSE data: "+err.Error()
			return false
		}
		if msg, ok := cb.errorMessage(); ok {
			rec.ErrorKind, rec.Error = results.ErrServerEvent, "server error: "+msg
			return false
		}
		if rec.CompletionID == "" {
			rec.CompletionID = cb.ID
		}
		setUsage(rec, cb.Usage)
		content = st.decoded(&cb)
	} else {
		content = st.scanned(data)
	}
	if content {
		if rec.TTFTNs == nil {
			rec.TTFTNs = results.Ptr(now)
		}
		rec.ChunkOffsetsNs = append(rec.ChunkOffsetsNs, now)
	}
	return true
}

// errorMessage reports whether a decoded chunk is an error object (a
// non-null "error", or "object": "error") and its message.
func (cb *chunkBody) errorMessage() (string, bool) {
	if len(cb.Error) > 0 && string(cb.Error) != "null" {
		return errorMessage(append(append([]byte(`{"error":`), cb.Error...), '}')), true
	}
	if cb.Object == "error" {
		return truncate(cmpOr(cb.Message, "error object without a message"), 300), true
	}
	return "", false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// decoded takes text and finish reasons from a full decode; it reports
// whether some choice carried non-empty text.
func (st *streamState) decoded(cb *chunkBody) bool {
	content := false
	for _, c := range cb.Choices {
		for _, t := range []*string{c.Text, deltaContent(c.Delta)} {
			if t != nil && *t != "" {
				content = true
				st.addText(*t)
			}
		}
		if c.FinishReason != nil {
			st.finish = *c.FinishReason
		}
	}
	return content
}

func deltaContent(d *struct {
	Content *string `json:"content"`
}) *string {
	if d == nil {
		return nil
	}
	return d.Content
}

// scanned takes text and finish reasons by a byte scan: every "text" and
// "content" key with a string value, in order, and every non-null
// "finish_reason". It reports whether some text was non-empty.
func (st *streamState) scanned(data []byte) bool {
	content := false
	for _, key := range [...]string{"text", "content"} {
		for off := 0; ; {
			s, next, ok := stringValue(data, off, key)
			if !ok {
				break
			}
			off = next
			if len(s) == 0 {
				continue
			}
			content = true
			if bytes.IndexByte(s, '\\') < 0 {
				st.addTextBytes(s)
				continue
			}
			// Escapes: the chunk is valid JSON, so this string is too.
			var d string
			json.Unmarshal(append(append([]byte{'"'}, s...), '"'), &d)
			st.addText(d)
		}
	}
	for off := 0; ; {
		s, next, ok := stringValue(data, off, "finish_reason")
		if !ok {
			break
		}
		st.finish, off = string(s), next
	}
	return content
}

func (st *streamState) addText(s string) {
	st.hash = fnvAdd(st.hash, s)
	if st.keepText {
		st.text.WriteString(s)
	}
}

func (st *streamState) addTextBytes(b []byte) {
	for _, c := range b {
		st.hash = (st.hash ^ uint64(c)) * fnvPrime
	}
	if st.keepText {
		st.text.Write(b)
	}
}

// finishRecord completes a successful stream: done says whether [DONE]
// arrived. A stream that ends without [DONE] succeeded when a choice
// finished (NoDone is set), and was cut off otherwise.
func (st *streamState) finishRecord(done bool) {
	rec := st.rec
	rec.FinishReason = st.finish
	if !done {
		if st.finish == "" {
			rec.ErrorKind, rec.Error = results.ErrConnection, "stream ended without data: [DONE] or a finish_reason"
			return
		}
		rec.NoDone = true
	}
	rec.ResponseHash = hashString(st.hash)
	if st.keepText {
		rec.ResponseText = st.text.String()
	}
}

// valueStart returns the first byte of the value of the first "key" member
// in data (0 when there is none).
func valueStart(data []byte, key string) byte {
	i, ok := findValue(data, 0, key)
	if !ok {
		return 0
	}
	return data[i]
}

// findValue finds the next "key" followed by optional white space and a
// colon at or after off, and returns the index of the first byte of its
// value. A quote inside a JSON string is escaped, so the bytes "key" only
// occur as a member name or as a string value, which no colon follows.
func findValue(data []byte, off int, key string) (int, bool) {
	for off < len(data) {
		i := bytes.Index(data[off:], []byte(key))
		if i < 0 {
			return 0, false
		}
		start := off + i
		j := start + len(key)
		off = j
		if start == 0 || data[start-1] != '"' || j >= len(data) || data[j] != '"' {
			continue
		}
		j = skipSpace(data, j+1)
		if j >= len(data) || data[j] != ':' {
			continue
		}
		j = skipSpace(data, j+1)
		if j < len(data) {
			return j, true
		}
	}
	return 0, false
}

// stringValue returns the raw (still escaped) bytes of the next string
// value of "key" at or after off, and where to continue. A member whose
// value is not a string is skipped.
func stringValue(data []byte, off int, key string) (raw []byte, next int, ok bool) {
	for {
		i, found := findValue(data, off, key)
		if !found {
			return nil, 0, false
		}
		if data[i] != '"' {
			off = i
			continue
		}
		for j := i + 1; j < len(data); j++ {
			switch data[j] {
			case '\\':
				j++
			case '"':
				return data[i+1 : j], j + 1, true
			}
		}
		return nil, 0, false
	}
}

func skipSpace(data []byte, j int) int {
	for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
		j++
	}
	return j
}

// FNV-1a, 64 bits, over the response text: cheap, allocation-free, and
// enough to tell two answers apart.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func hashString(h uint64) string {
	const hexdigits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexdigits[h&15]
		h >>= 4
	}
	return string(b[:])
}
