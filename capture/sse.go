package capture

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// sseReader reads Server-Sent Events from a response body. It handles LF and
// CRLF line ends, multi-line data fields, comment lines and named events.
// The slices it returns are valid until the next call to next.
type sseReader struct {
	r     *bufio.Reader
	data  []byte
	event []byte
	long  []byte // assembles a line longer than the bufio buffer
	// dataSeen tells "no data field yet" from "an empty data field", which
	// matters when joining multi-line data.
	dataSeen bool
	// comment holds the comment lines of the current event; Dynamo sends
	// an error event's message as a comment (": message").
	comment []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// sseReaders recycles readers (and their 16 KiB buffers) between requests,
// so a streamed request allocates no reader buffers in steady state.
var sseReaders = sync.Pool{New: func() any { return newSSEReader(nil) }}

func getSSEReader(r io.Reader) *sseReader {
	s := sseReaders.Get().(*sseReader)
	s.r.Reset(r)
	return s
}

func putSSEReader(s *sseReader) {
	s.r.Reset(nil)
	s.data, s.event, s.long, s.comment = s.data[:0], s.event[:0], s.long[:0], s.comment[:0]
	sseReaders.Put(s)
}

// errSSELine reports a line that is not valid SSE framing.
var errSSELine = errors.New("malformed SSE line")

// next returns the next dispatched event: its type (empty for the default
// "message") and its data. It returns io.EOF at a clean end of stream and
// io.ErrUnexpectedEOF when the stream ends inside an event.
func (s *sseReader) next() (event, data []byte, err error) {
	s.data = s.data[:0]
	s.event = s.event[:0]
	s.dataSeen = false
	s.comment = s.comment[:0]
	seen := false
	for {
		line, err := s.line()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if seen && len(line) == 0 {
					// Stream ended without the blank line that dispatches
					// the event: dispatch what we have, as browsers do not,
					// but servers that skip the final blank line exist.
					return s.event, s.data, nil
				}
				if len(line) == 0 {
					return nil, nil, io.EOF
				}
				// A partial last line with no newline.
				return nil, nil, io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		if len(line) == 0 {
			if !seen {
				continue
			}
			return s.event, s.data, nil
		}
		if line[0] == ':' {
			// Comment / keep-alive. Kept (cheaply) for error messages.
			if len(s.comment) < 1024 {
				if len(s.comment) > 0 {
					s.comment = append(s.comment, ' ')
				}
				s.comment = append(s.comment, bytes.TrimSpace(line[1:])...)
			}
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if s.dataSeen {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			s.dataSeen = true
			seen = true
		case "event":
			s.event = append(s.event[:0], value...)
			seen = true
		case "id", "retry":
			seen = true
		default:
			return nil, nil, errSSELine
		}
	}
}

// line returns the next line without its line end. At end of input it
// returns the partial line (possibly empty) and io.EOF.
func (s *sseReader) line() ([]byte, error) {
	s.long = s.long[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.long = append(s.long, chunk...)
			continue
		}
		if len(s.long) > 0 {
			s.long = append(s.long, chunk...)
			chunk = s.long
		}
		if err != nil {
			return chunk, err
		}
		chunk = chunk[:len(chunk)-1]
		if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
			chunk = chunk[:n-1]
		}
		return chunk, nil
	}
}
