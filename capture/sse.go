package capture

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// sseReader reads Server-Sent Events from a response body the way the
// WHATWG HTML standard's event-stream parser dispatches them:
//
//   - lines end with LF, CRLF or a lone CR, and a CR at the end of one read
//     followed by an LF at the start of the next is one line end;
//   - one leading byte-order mark is dropped;
//   - a line starting with ":" is a comment; a line without a colon is a
//     field with an empty value; one space after the colon is dropped;
//   - "data" appends its value and an LF to the data buffer, "event" sets
//     the type, "id" and "retry" are read and unused, any other field is
//     ignored;
//   - a blank line dispatches the event, unless its data buffer is empty
//     (then the event, e.g. Dynamo's "event: request_id" with only a
//     comment, is dropped).
//
// Three extensions keep what servers mean when they fail:
//
//   - an event of type "error" is dispatched even without data, and its
//     comments are kept as the message (Dynamo sends "event: error" with
//     the message as a comment);
//   - an "error" field, which the standard ignores, is kept and dispatched
//     as an error (llama.cpp sent "error: {...}" at HTTP 200);
//   - at the end of the stream a last event that lacks its blank line (and
//     a last line that lacks its line end) is still dispatched, where the
//     standard discards it: "data: [DONE]" with no line end after it is a
//     complete stream.
//
// The slices next returns, and comment and errField, are valid until the
// next call to next.
type sseReader struct {
	r    *bufio.Reader
	long []byte // assembles a line longer than what is buffered
	// skipLF is set when a line ended with a CR that was the last byte
	// read: an LF that comes next belongs to that line end.
	skipLF  bool
	started bool // the byte-order mark check is done

	event   []byte
	data    []byte // each value followed by an LF, as the standard has it
	hasData bool
	// comment holds the comment lines of the current event, joined by a
	// space (at most about 1 KiB): an error event's message.
	comment []byte
	// errField holds the value of a non-standard "error" field.
	errField []byte
	hasErr   bool
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
	s.reset()
	s.long, s.skipLF, s.started = s.long[:0], false, false
	sseReaders.Put(s)
}

// errorEventType is the event type servers use for a failure.
var errorEventType = []byte("error")

// reset clears the buffers of the event being read.
func (s *sseReader) reset() {
	s.event, s.data, s.comment, s.errField = s.event[:0], s.data[:0], s.comment[:0], s.errField[:0]
	s.hasData, s.hasErr = false, false
}

// dispatchable reports whether the buffered event is one next returns.
func (s *sseReader) dispatchable() bool {
	return s.hasData || s.hasErr || bytes.Equal(s.event, errorEventType)
}

// next returns the next dispatched event: its type (empty for the default
// "message") and its data. It returns io.EOF at the end of the stream and
// any other read error as it comes.
func (s *sseReader) next() (event, data []byte, err error) {
	s.reset()
	for {
		line, err := s.line()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		if err != nil { // end of stream: the last line had no line end
			if len(line) > 0 {
				s.field(line)
			}
			if s.dispatchable() {
				return s.dispatch()
			}
			return nil, nil, io.EOF
		}
		if len(line) == 0 {
			if s.dispatchable() {
				return s.dispatch()
			}
			s.reset()
			continue
		}
		s.field(line)
	}
}

func (s *sseReader) dispatch() (event, data []byte, err error) {
	d := s.data
	if n := len(d); n > 0 && d[n-1] == '\n' {
		d = d[:n-1]
	}
	return s.event, d, nil
}

// field processes one non-blank line.
func (s *sseReader) field(line []byte) {
	if line[0] == ':' {
		if len(s.comment) < 1024 {
			if len(s.comment) > 0 {
				s.comment = append(s.comment, ' ')
			}
			s.comment = append(s.comment, bytes.TrimSpace(line[1:])...)
		}
		return
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		s.data = append(s.data, value...)
		s.data = append(s.data, '\n')
		s.hasData = true
	case "event":
		s.event = append(s.event[:0], value...)
	case "error":
		s.errField = append(s.errField[:0], value...)
		s.hasErr = true
	}
}

// line returns the next line without its line end. At the end of input it
// returns the partial line (possibly empty) with io.EOF; other read errors
// come with a nil line.
func (s *sseReader) line() ([]byte, error) {
	s.long = s.long[:0]
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return s.long, io.EOF
				}
				return nil, err
			}
		}
		if !s.started {
			s.started = true
			if bom, _ := s.r.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
				s.r.Discard(3)
				continue
			}
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		if s.skipLF {
			s.skipLF = false
			if buf[0] == '\n' {
				s.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			s.long = append(s.long, buf...)
			s.r.Discard(len(buf))
			continue
		}
		end := i + 1
		if buf[i] == '\r' {
			switch {
			case i+1 < len(buf) && buf[i+1] == '\n':
				end++
			case i+1 == len(buf):
				s.skipLF = true
			}
		}
		var line []byte
		if len(s.long) > 0 {
			s.long = append(s.long, buf[:i]...)
			line = s.long
		} else {
			line = buf[:i]
		}
		s.r.Discard(end)
		return line, nil
	}
}
