package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

func genServerTable(f *schema.File, nm *names, lc *limitChecks, file *jen.File) {
	file.Comment(comment(nm.serverTable + " is the dispatch table runtime/server serves for h: message type -> " +
		"decode, call, encode."))
	file.Func().Id(nm.serverTable).Params(jen.Id("h").Id(nm.Handler)).Op("*").Qual(serverPkg, "Table").Block(
		jen.Return(jen.Op("&").Qual(serverPkg, "Table").Values(jen.Dict{
			jen.Id("Protocol"): jen.Lit(f.Package),
			jen.Id("Schema"):   jen.Id(nm.Schema),
			jen.Id("Methods"): jen.Index().Qual(serverPkg, "Method").ValuesFunc(func(g *jen.Group) {
				for _, c := range f.Calls {
					g.Line().Add(tableEntry(c, nm, lc))
				}
				g.Line()
			}),
			jen.Id("ErrorResponse"): errorResponseFunc(f, nm),
		})),
	).Line()
}

func errorResponseFunc(f *schema.File, nm *names) jen.Code {
	if f.Errors == nil {
		return jen.Nil()
	}
	return jen.Func().Params(jen.Id("text").String()).Params(jen.Qual(ipcPkg, "MsgType"), jen.Qual(msgpPkg, "Marshaler")).Block(
		jen.Return(jen.Id(nm.MsgConst(f.Errors.Message)), jen.Op("&").Id(f.Errors.Message.Payload.Name).Values(jen.Dict{
			jen.Id(f.Errors.Field.Name): jen.Id("text"),
		})),
	)
}

func genServerOptions(f *schema.File, nm *names, file *jen.File) {
	file.Comment(comment(nm.ServerOptions + " configure " + nm.NewServer + ": the runtime's options (see " +
		"server.OptionsFor for every field and its default) with the Handler answering the calls, which is required."))
	file.Type().Id(nm.ServerOptions).Op("=").Qual(serverPkg, "OptionsFor").Index(jen.Id(nm.Handler)).Line()
	file.Comment(comment(nm.Server + " serves the " + f.Package + " protocol on a Unix socket; see runtime/server " +
		"for its contract (Start, Serve, Close)."))
	file.Type().Id(nm.Server).Op("=").Qual(serverPkg, "Server").Line()
	file.Comment(comment(nm.NewServer + " returns a server that answers every call of the schema with opts.Handler."))
	file.Func().Id(nm.NewServer).Params(jen.Id("opts").Id(nm.ServerOptions)).Params(jen.Op("*").Id(nm.Server), jen.Error()).Block(
		jen.If(jen.Id("opts").Dot("Handler").Op("==").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual("errors", "New").Call(jen.Lit(f.Package+": "+nm.ServerOptions+".Handler is nil")))),
		jen.Return(jen.Qual(serverPkg, "New").Call(jen.Id("opts"), jen.Id(nm.serverTable).Call(jen.Id("opts").Dot("Handler")))),
	).Line()
	file.Comment("Compile-time check that the runtime this package was generated for is linked in.")
	file.Const().Id("_").Op("=").Qual(serverPkg, "SupportPackageIsVersion2").Line()
}
