package ticket

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/citywall/citywall/internal/jsoncheck"
)

// itemFunc receives each item of a body, decoded into v; err is what was
// wrong with this item alone (a field, or an NDJSON line that is not JSON).
type itemFunc[T any] func(index, line int, v *T, err error)

// splitBody cuts a body into its top-level items, decodes each into a T
// and hands it to fn.
func splitBody[T any](r io.Reader, contentType string, max int, fn itemFunc[T]) error {
	if isNDJSON(contentType) {
		return splitLines(r, lineState{line: 1}, max, fn)
	}
	br := bufio.NewReader(r)
	off, lines, c, err := skipSpace(br)
	if err == io.EOF {
		return ErrEmptyBody
	}
	if err != nil {
		return &DecodeError{Offset: off, Err: err}
	}
	if c == '[' {
		return splitArray(br, off, max, fn)
	}
	// One value, or the first of several: the rest is then read as NDJSON.
	nl := &newlineCounter{r: br}
	dec := json.NewDecoder(nl)
	var v T
	raw, err := nextItem(dec, &v)
	if !raw {
		return &DecodeError{Offset: faultOffset(dec, off, err), Err: err}
	}
	fn(0, 0, &v, err)
	buffered, _ := io.ReadAll(dec.Buffered())
	s := lineState{
		index: 1,
		// The value may span lines; what follows it on its last line is
		// the first line read as NDJSON.
		line:   1 + lines + nl.n - bytes.Count(buffered, []byte{'\n'}),
		offset: off + dec.InputOffset(),
	}
	return splitLines(io.MultiReader(bytes.NewReader(buffered), br), s, max, fn)
}

func isNDJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return true
	}
	return false
}

// nextItem reads the next value of dec and decodes it into v. read is
// false when no value could be read (syntax, truncation, the reader's own
// error: decoding stops, err says why); otherwise err concerns this item
// alone and the decoder reads on.
func nextItem(dec *json.Decoder, v any) (read bool, err error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return false, err
	}
	return true, decodeStrict(raw, v)
}

// decodeStrict decodes one item: unknown fields, a member named twice and
// invalid UTF-8 are errors naming the field.
func decodeStrict(raw []byte, v any) error {
	if err := jsoncheck.Check(raw); err != nil {
		var ce *jsoncheck.Error
		if errors.As(err, &ce) {
			return &FieldError{Field: strings.TrimPrefix(ce.Field, "/"), Reason: ce.Reason}
		}
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// skipSpace skips a byte order mark and white space and returns the first
// other byte, left unread, with how many bytes and lines were skipped.
func skipSpace(br *bufio.Reader) (off int64, lines int, c byte, err error) {
	if p, _ := br.Peek(len(bom)); bytes.Equal(p, bom) {
		_, _ = br.Discard(len(bom))
		off = int64(len(bom))
	}
	for {
		c, err = br.ReadByte()
		if err != nil {
			return off, lines, 0, err
		}
		switch c {
		case '\n':
			lines++
		case ' ', '\t', '\r':
		default:
			return off, lines, c, br.UnreadByte()
		}
		off++
	}
}

// splitArray reads a JSON array element by element, so that one bad
// element costs only itself.
func splitArray[T any](br *bufio.Reader, base int64, max int, fn itemFunc[T]) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // '[', already seen
		return &DecodeError{Offset: base, Err: err}
	}
	i := 0
	for ; dec.More(); i++ {
		if i == max {
			return &DecodeError{Index: i, Offset: base + dec.InputOffset(), Err: fmt.Errorf("more than %d: %w", max, ErrTooManyItems)}
		}
		var v T
		raw, err := nextItem(dec, &v)
		if !raw {
			return &DecodeError{Index: i, Offset: faultOffset(dec, base, err), Err: err}
		}
		fn(i, 0, &v, err)
	}
	tok, err := dec.Token()
	if err == nil && tok != json.Delim(']') {
		err = fmt.Errorf("unexpected %v in array", tok)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return &DecodeError{Index: i, Offset: faultOffset(dec, base, err), Err: err}
	}
	at := base + dec.InputOffset()
	switch tok, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return &DecodeError{Index: i, Offset: faultOffset(dec, base, err), Err: err}
	default:
		return &DecodeError{Index: i, Offset: at, Err: fmt.Errorf("unexpected %v after the array", tok)}
	}
}

// faultOffset places an error of dec in the whole body. The offsets of
// json.Decoder's syntax errors count from where its scanner last started,
// so the unread buffer is scanned once more from the decoder's position.
func faultOffset(dec *json.Decoder, base int64, err error) int64 {
	at := base + dec.InputOffset()
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		// A reader error or truncated input: all that was read is buffered.
		n, _ := io.Copy(io.Discard, dec.Buffered())
		return at + n
	}
	buf, _ := io.ReadAll(dec.Buffered())
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(buf)).Decode(&raw); errors.As(err, &se) {
		return at + se.Offset
	}
	return at
}

// lineState is where splitLines starts: the next item index, the line
// number and the body offset of the first byte it reads.
type lineState struct {
	index, line int
	offset      int64
}

// splitLines reads NDJSON: one value per line, blank lines skipped. A line
// that is not JSON is a bad item, not the end: the next line is whole again.
func splitLines[T any](r io.Reader, s lineState, max int, fn itemFunc[T]) error {
	src := &errReader{r: r}
	sc := bufio.NewScanner(src)
	sc.Buffer(nil, maxLineBytes)
	next := s.offset // offset of the line the scanner returns next
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && src.broken() {
			// The input broke off: only whole lines are items.
			atEOF = false
		}
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if adv == 0 && err == nil && src.broken() {
			err = src.err
		}
		s.offset = next
		next += int64(adv)
		return adv, tok, err
	})
	for ; sc.Scan(); s.line++ {
		line := sc.Bytes()
		if s.index == 0 && s.line == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if s.index == max {
			return &DecodeError{Index: s.index, Line: s.line, Offset: s.offset, Err: fmt.Errorf("more than %d: %w", max, ErrTooManyItems)}
		}
		var v T
		fn(s.index, s.line, &v, decodeLine(line, &v))
		s.index++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes: %w", maxLineBytes, err)
		}
		return &DecodeError{Index: s.index, Line: s.line, Offset: next, Err: err}
	}
	return nil
}

// decodeLine decodes one NDJSON line, which must hold exactly one value.
func decodeLine(line []byte, v any) error {
	if !json.Valid(line) {
		return json.Unmarshal(line, new(json.RawMessage)) // for the syntax error
	}
	return decodeStrict(line, v)
}

// errReader remembers the error of its reader: a line cut short by it is
// not an item.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (e *errReader) broken() bool { return e.err != nil && e.err != io.EOF }

// newlineCounter counts the lines its reader returned.
type newlineCounter struct {
	r io.Reader
	n int
}

func (c *newlineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}
