package codegen

import (
	"fmt"
	"strconv"

	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// emitEnum declares an enum: its named type, its constants, Valid and String.
func emitEnum(jf *jen.File, e *schema.Enum) {
	jf.Comment(docText(e.Name, e.Doc, e.Name+" is an enumeration of the protocol."))
	jf.Type().Id(e.Name).Id(basicName(e.Base))

	if len(e.Values) > 0 {
		jf.Comment(comment(fmt.Sprintf("Values of %s.", e.Name)))
		jf.Const().DefsFunc(func(g *jen.Group) {
			for _, v := range e.Values {
				if v.Doc.Text != "" || v.Deprecated != "" {
					g.Comment(docTextIn(v.Name, v.Doc, v.Name+" is deprecated.", 1))
				}
				g.Id(v.Name).Id(e.Name).Op("=").Add(enumLit(e, v))
			}
		})
	}
	emitEnumValid(jf, e)
	emitEnumString(jf, e)
}

func enumLit(e *schema.Enum, v *schema.EnumValue) jen.Code {
	if e.Base == schema.KindString {
		return jen.Lit(v.Str)
	}
	return jen.Op(strconv.FormatInt(v.Int, 10))
}

// emitEnumValid declares Valid: true for the declared values only.
func emitEnumValid(jf *jen.File, e *schema.Enum) {
	jf.Comment(comment(fmt.Sprintf("Valid reports whether x is one of the values %s declares.", e.Name)))
	body := []jen.Code{jen.Return(jen.False())}
	if len(e.Values) > 0 {
		var cases []jen.Code
		for _, v := range distinct(e) {
			cases = append(cases, jen.Id(v.Name))
		}
		body = []jen.Code{
			jen.Switch(jen.Id("x")).Block(jen.Case(cases...).Block(jen.Return(jen.True()))),
			jen.Return(jen.False()),
		}
	}
	jf.Func().Params(jen.Id("x").Id(e.Name)).Id("Valid").Params().Bool().Block(body...)
}

// emitEnumString declares String: the constant's name for integer enums, the
// value itself for string enums.
func emitEnumString(jf *jen.File, e *schema.Enum) {
	if e.Base == schema.KindString {
		jf.Comment(comment("String returns x as a plain string."))
		jf.Func().Params(jen.Id("x").Id(e.Name)).Id("String").Params().String().Block(
			jen.Return(jen.String().Call(jen.Id("x"))))
		return
	}
	jf.Comment(comment(fmt.Sprintf("String returns the name of x's constant, or %q for a value\n"+
		"%s does not declare.", e.Name+"(N)", e.Name)))
	fallback := jen.Return(jen.Lit(e.Name + "(").Op("+").Add(formatInt(e.Base)).Op("+").Lit(")"))
	if len(e.Values) == 0 {
		jf.Func().Params(jen.Id("x").Id(e.Name)).Id("String").Params().String().Block(fallback)
		return
	}
	jf.Func().Params(jen.Id("x").Id(e.Name)).Id("String").Params().String().Block(
		jen.Switch(jen.Id("x")).BlockFunc(func(g *jen.Group) {
			for _, v := range distinct(e) {
				g.Case(jen.Id(v.Name)).Block(jen.Return(jen.Lit(v.Name)))
			}
		}),
		fallback,
	)
}

// distinct lists e's values without aliases (a later name for a value already
// named); the first name wins, as with stringer.
func distinct(e *schema.Enum) []*schema.EnumValue {
	var out []*schema.EnumValue
	seen := make(map[string]bool)
	for _, v := range e.Values {
		k := v.Str
		if e.Base != schema.KindString {
			k = strconv.FormatInt(v.Int, 10)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// formatInt is the strconv call printing x, an enum of an integer kind.
func formatInt(k schema.Kind) *jen.Statement {
	switch k {
	case schema.KindUint, schema.KindUint8, schema.KindUint16, schema.KindUint32, schema.KindUint64:
		return jen.Qual("strconv", "FormatUint").Call(jen.Uint64().Call(jen.Id("x")), jen.Lit(10))
	}
	return jen.Qual("strconv", "FormatInt").Call(jen.Int64().Call(jen.Id("x")), jen.Lit(10))
}
