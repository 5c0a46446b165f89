package codegen

import (
	"github.com/dave/jennifer/jen"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// commentWidth is the column doc comments are wrapped at (connect-go's habit).
const commentWidth = 97

// docText is the doc comment (as // lines) of a declaration called name: the schema's doc,
// made to start with name as Go's convention asks, with a "Deprecated:"
// paragraph when the schema deprecates it. fallback is used when the schema
// has no doc; it must start with name itself.
//
// A doc that already starts with name is kept; one starting with a lowercase
// word ("is one row ...") gets name put in front; any other gets "name: ".
func docText(name string, d schema.Doc, fallback string) string {
	return comment(docString(name, d, fallback))
}

// docString is docText as plain text, without the comment markers.
func docString(name string, d schema.Doc, fallback string) string {
	text := strings.TrimSpace(d.Text)
	switch {
	case text == "":
		text = fallback
	case strings.HasPrefix(text, name+" ") || text == name || strings.HasPrefix(text, name+"\n"):
	case startsLower(text):
		text = name + " " + text
	default:
		text = name + ": " + text
	}
	if dep := strings.TrimSpace(d.Deprecated); dep != "" {
		text += "\n\nDeprecated: " + dep
	}
	return text
}

// comment formats text as // lines, wrapped at commentWidth columns (for a
// top-level declaration). jennifer writes a comment starting with "//" as is;
// any other multi-line text would become a /* */ block.
func comment(text string) string {
	lines := strings.Split(wrap(text, commentWidth-3), "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = "//"
		} else {
			lines[i] = "// " + l
		}
	}
	return strings.Join(lines, "\n")
}

func startsLower(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLower(r)
}

// wrap re-flows the plain paragraphs of text to at most width columns. Lines
// that are indented or start a list item are kept as written (code blocks,
// lists), as are paragraph breaks.
func wrap(text string, width int) string {
	var out []string
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, fill(strings.Join(para, " "), width)...)
			para = nil
		}
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, " \t")
		switch {
		case line == "":
			flush()
			out = append(out, "")
		case line[0] == ' ' || line[0] == '\t' || strings.HasPrefix(line, "- "):
			flush()
			out = append(out, line)
		default:
			para = append(para, line)
		}
	}
	flush()
	return strings.Join(out, "\n")
}

// fill breaks one paragraph into lines of at most width columns; a word
// longer than width gets a line of its own.
func fill(p string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(p) {
		if cur != "" && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// docComment is docText as a jennifer comment; fallback is the text after
// name used when the schema has no doc.
func docComment(name string, d schema.Doc, fallback string) *jen.Statement {
	return jen.Comment(docText(name, d, name+" "+fallback))
}
