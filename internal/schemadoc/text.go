package schemadoc

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes p as readable text: every call, message, struct and enum.
func WriteText(w io.Writer, p *Protocol) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "protocol %s (%s): message ids 0x%02x..0x%02x\n", p.Package, p.Source, p.IDs.Min, p.IDs.Max)
	fmt.Fprintf(tw, "default limits: %s\n", limitsText(p.Limits))
	if p.Errors != nil {
		fmt.Fprintf(tw, "errors: unknown and malformed requests are answered with %s, text in %s\n", p.Errors.Message, p.Errors.Field)
	}
	fmt.Fprintf(tw, "\ncalls:\n")
	for _, c := range p.Calls {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, c.Kind, callShape(p, c)+accessNote(c))
	}
	fmt.Fprintf(tw, "\nmessages:\n")
	for _, m := range p.Messages {
		payload := m.Payload
		if payload == "" {
			payload = "(no payload)"
		}
		fmt.Fprintf(tw, "  0x%02x\t%s\t%s\n", m.ID, m.Name, payload)
	}
	fmt.Fprintf(tw, "\nstructs:\n")
	for _, s := range p.Structs {
		fmt.Fprintf(tw, "  %s\n", s.Name)
		writeFields(tw, s.Fields, "    ")
	}
	if len(p.Enums) > 0 {
		fmt.Fprintf(tw, "\nenums:\n")
		for _, e := range p.Enums {
			fmt.Fprintf(tw, "  %s (%s)\n", e.Name, e.Type)
			writeValues(tw, e.Values, "    ")
		}
	}
	if p.Reserved != nil {
		fmt.Fprintf(tw, "\nreserved:\n%s", p.Reserved.text("  "))
	}
	return tw.Flush()
}

// text lists the retired ids and keys, one line each, after indent.
func (r *Reserved) text(indent string) string {
	var b strings.Builder
	if len(r.IDs) > 0 {
		var ids []string
		for _, id := range r.IDs {
			ids = append(ids, fmt.Sprintf("0x%02x", id))
		}
		fmt.Fprintf(&b, "%sids %s\n", indent, strings.Join(ids, ", "))
	}
	for _, k := range r.Keys {
		fmt.Fprintf(&b, "%skeys of %s: %s\n", indent, k.Struct, strings.Join(k.Keys, ", "))
	}
	return b.String()
}

// WriteTextOne writes one part of p (a Call, Message, Struct or Enum, as
// returned by Lookup) with its documentation.
func WriteTextOne(w io.Writer, p *Protocol, part any) error {
	tw := newTable(w)
	switch x := part.(type) {
	case Call:
		fmt.Fprintf(tw, "call %s (%s): %s\n", x.Name, x.Kind, callShape(p, x)+accessNote(x))
		writeDoc(tw, x.Doc, x.Deprecated)
		for _, name := range []string{x.Request, x.Response + x.Stream} {
			m := p.message(name)
			if m.Payload == "" {
				fmt.Fprintf(tw, "\n%s (0x%02x): no payload\n", m.Name, m.ID)
				continue
			}
			fmt.Fprintf(tw, "\n%s (0x%02x): %s\n", m.Name, m.ID, m.Payload)
			writeFields(tw, p.strct(m.Payload).Fields, "  ")
		}
	case Message:
		fmt.Fprintf(tw, "message %s: id 0x%02x, ", x.Name, x.ID)
		if x.Payload == "" {
			fmt.Fprintf(tw, "no payload\n")
		} else {
			fmt.Fprintf(tw, "payload %s\n", x.Payload)
		}
		writeDoc(tw, x.Doc, x.Deprecated)
		if x.Payload != "" {
			fmt.Fprintln(tw)
			writeFields(tw, p.strct(x.Payload).Fields, "  ")
		}
	case Struct:
		fmt.Fprintf(tw, "struct %s\n", x.Name)
		writeDoc(tw, x.Doc, x.Deprecated)
		fmt.Fprintln(tw)
		writeFields(tw, x.Fields, "  ")
		for _, f := range x.Fields {
			if f.Doc != "" {
				fmt.Fprintf(tw, "\n%s: %s\n", f.Name, oneLine(f.Doc))
			}
		}
	case Enum:
		fmt.Fprintf(tw, "enum %s (%s)\n", x.Name, x.Type)
		writeDoc(tw, x.Doc, x.Deprecated)
		fmt.Fprintln(tw)
		writeValues(tw, x.Values, "  ")
	}
	return tw.Flush()
}

// table is a tabwriter whose lines lose the padding of empty last cells.
type table struct {
	*tabwriter.Writer
	buf bytes.Buffer
	w   io.Writer
}

func newTable(w io.Writer) *table {
	t := &table{w: w}
	t.Writer = tabwriter.NewWriter(&t.buf, 0, 4, 2, ' ', 0)
	return t
}

// Flush writes the table out, each line without trailing blanks.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if strings.HasSuffix(line, "\n") {
			out.WriteString(strings.TrimRight(line, " \n") + "\n")
		} else {
			out.WriteString(line)
		}
	}
	_, err := t.w.Write(out.Bytes())
	return err
}

// callShape is e.g. "StatusRequest (0xa2) -> StatusResponse (0xa3), error text in Err".
func callShape(p *Protocol, c Call) string {
	s := fmt.Sprintf("%s (0x%02x) -> ", c.Request, c.RequestID)
	if c.Kind == "unary" {
		s += fmt.Sprintf("%s (0x%02x)", c.Response, c.AnswerID)
		if c.ErrorField != "" {
			s += ", error text in " + c.ErrorField
		}
		return s
	}
	s += fmt.Sprintf("stream of %s (0x%02x)", c.Stream, c.AnswerID)
	if c.LastWhen != "" {
		return s + ", last frame has " + c.LastWhen + " true"
	}
	return s + ", until either side closes"
}

// accessNote is ", access read" for a call that needs a level.
func accessNote(c Call) string {
	if c.Access == "" {
		return ""
	}
	return ", access " + c.Access
}

func writeFields(w io.Writer, fields []Field, indent string) {
	if len(fields) == 0 {
		fmt.Fprintf(w, "%s(no fields)\n", indent)
	}
	for _, f := range fields {
		var notes []string
		if f.OmitEmpty {
			notes = append(notes, "omitempty")
		}
		if f.MaxLen > 0 {
			notes = append(notes, fmt.Sprintf("max_len %d", f.MaxLen))
		}
		if f.MaxItems > 0 {
			notes = append(notes, fmt.Sprintf("max_items %d", f.MaxItems))
		}
		if f.Deprecated != "" {
			notes = append(notes, "deprecated")
		}
		fmt.Fprintf(w, "%s%s\tkey %q\t%s\t%s\n", indent, f.Name, f.Key, f.Type, strings.Join(notes, ", "))
	}
}

func writeValues(w io.Writer, vals []EnumValue, indent string) {
	for _, v := range vals {
		switch x := v.Value.(type) {
		case string:
			fmt.Fprintf(w, "%s%s\t%q\n", indent, v.Name, x)
		default:
			fmt.Fprintf(w, "%s%s\t%v\n", indent, v.Name, x)
		}
	}
}

func writeDoc(w io.Writer, doc, deprecated string) {
	if doc != "" {
		fmt.Fprintf(w, "  %s\n", oneLine(doc))
	}
	if deprecated != "" {
		fmt.Fprintf(w, "  Deprecated: %s\n", oneLine(deprecated))
	}
}

// oneLine joins a doc text's lines (tabwriter cells must not hold newlines).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func limitsText(l Limits) string {
	if l.MaxLen == 0 && l.MaxItems == 0 {
		return "none declared (the generator's defaults apply)"
	}
	return fmt.Sprintf("max_len %d, max_items %d", l.MaxLen, l.MaxItems)
}

func (p *Protocol) message(name string) Message {
	for _, m := range p.Messages {
		if m.Name == name {
			return m
		}
	}
	return Message{Name: name}
}

func (p *Protocol) strct(name string) Struct {
	for _, s := range p.Structs {
		if s.Name == name {
			return s
		}
	}
	return Struct{Name: name}
}
