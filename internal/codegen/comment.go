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
// A doc that already starts with name as a word ("ID is ...", "Lines, when
// not zero, ...") is kept; one starting with a lowercase word ("is one row
// ...") gets name put in front; any other gets "name: ".
func docText(name string, d schema.Doc, fallback string) string {
	return comment(docString(name, d, fallback))
}

// docTextIn is docText for a declaration indented by indent tabs.
func docTextIn(name string, d schema.Doc, fallback string, indent int) string {
	return commentIn(docString(name, d, fallback), indent)
}

// docString is docText as plain text, without the comment markers.
func docString(name string, d schema.Doc, fallback string) string {
	text := strings.TrimSpace(d.Text)
	switch {
	case text == "":
		text = fallback
	case startsWithWord(text, name):
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

// tabColumns is how many columns a tab of indentation counts for when doc
// comments are wrapped, so that every generated doc line ends by
// commentWidth whatever its indentation.
const tabColumns = 4

// comment formats text as // lines, wrapped at commentWidth columns (for a
// top-level declaration). jennifer writes a comment starting with "//" as is;
// any other multi-line text would become a /* */ block.
func comment(text string) string { return commentIn(text, 0) }

// commentIn is comment for a declaration indented by indent tabs (a struct
// field, an interface method, a constant in a block).
func commentIn(text string, indent int) string {
	lines := strings.Split(wrap(text, commentWidth-3-indent*tabColumns), "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = "//"
		} else {
			lines[i] = "// " + l
		}
	}
	return strings.Join(lines, "\n")
}

// startsWithWord reports whether text starts with word, not followed by a
// letter, digit or underscore ("Foo," and "Foo is" do, "Foobar" does not).
func startsWithWord(text, word string) bool {
	if !strings.HasPrefix(text, word) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(text[len(word):])
	return r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
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
