package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// serverOptionFields are the runtime options ServerOptions mirrors, besides
// SocketPath and Handler, with their types in runtime/server terms.
var serverOptionFields = []struct {
	name, doc string
	typ       func() *jen.Statement
}{
	{"Logger", "Logger receives the server's structured logs; nil: slog.Default().",
		func() *jen.Statement { return jen.Op("*").Qual("log/slog", "Logger") }},
	{"MaxConns", "MaxConns bounds concurrent connections; extras are refused. 0: the runtime default.",
		func() *jen.Statement { return jen.Int() }},
	{"IdleTimeout", "IdleTimeout closes a connection idle this long between requests. 0: the runtime default; < 0: never.",
		func() *jen.Statement { return jen.Qual("time", "Duration") }},
	{"MaxPayload", "MaxPayload is the largest accepted request payload. 0: ipc.MaxPayloadSize.",
		func() *jen.Statement { return jen.Uint32() }},
	{"WriteTimeout", "WriteTimeout bounds how long a response write may block on a client that does not read. 0: the runtime default.",
		func() *jen.Statement { return jen.Qual("time", "Duration") }},
	{"StreamSendTimeout", "StreamSendTimeout bounds how long a stream Send waits for a slow client. 0: the runtime default.",
		func() *jen.Statement { return jen.Qual("time", "Duration") }},
	{"Authorize", "Authorize, when set, is asked about every new connection; an error refuses it.",
		func() *jen.Statement {
			return jen.Func().Params(jen.Qual("context", "Context"), jen.Qual(serverPkg, "PeerCred")).Error()
		}},
	{"UnaryInterceptors", "UnaryInterceptors wrap every unary call, outermost first.",
		func() *jen.Statement { return jen.Index().Qual(serverPkg, "UnaryInterceptor") }},
	{"StreamInterceptors", "StreamInterceptors wrap every streaming call, outermost first.",
		func() *jen.Statement { return jen.Index().Qual(serverPkg, "StreamInterceptor") }},
}

func genServerTable(f *schema.File, nm *names, file *jen.File) {
	file.Comment("serverTable is the dispatch table runtime/server serves: message type -> decode, call, encode.")
	file.Var().Id("serverTable").Op("=").Qual(serverPkg, "Table").Values(jen.Dict{
		jen.Id("Protocol"): jen.Lit(f.Package),
		jen.Id("Methods"): jen.Index().Qual(serverPkg, "Method").ValuesFunc(func(g *jen.Group) {
			for _, c := range f.Calls {
				n := nm.Call(c)
				glue := jen.Id("Unary")
				if c.Stream != nil {
					glue = jen.Id("Stream")
				}
				g.Values(jen.Dict{
					jen.Id("Name"):     jen.Lit(n.Method),
					jen.Id("Request"):  jen.Id(n.MsgRequest),
					jen.Id("Response"): jen.Id(n.MsgResponse),
					glue:               jen.Id(n.serverGlue),
				})
			}
		}),
		jen.Id("ErrorResponse"): errorResponseFunc(f, nm),
	}).Line()
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
	file.Comment("ServerOptions configure NewServer. Only Handler is required.")
	file.Type().Id("ServerOptions").StructFunc(func(g *jen.Group) {
		g.Comment("SocketPath is where Start listens; its directory is created with mode 0700.")
		g.Id("SocketPath").String()
		g.Comment("Handler answers the calls.")
		g.Id("Handler").Id("Handler")
		for _, o := range serverOptionFields {
			g.Comment(o.doc)
			g.Id(o.name).Add(o.typ())
		}
	}).Line()
	file.Comment("Server serves the " + f.Package + " protocol on a Unix socket; see runtime/server for its")
	file.Comment("contract (Start, Serve, Close).")
	file.Type().Id("Server").Op("=").Qual(serverPkg, "Server").Line()
	opts := jen.Dict{jen.Id("SocketPath"): jen.Id("opts").Dot("SocketPath")}
	for _, o := range serverOptionFields {
		opts[jen.Id(o.name)] = jen.Id("opts").Dot(o.name)
	}
	file.Comment("NewServer returns a server that answers every call of the schema with opts.Handler.")
	file.Func().Id("NewServer").Params(jen.Id("opts").Id("ServerOptions")).Params(jen.Op("*").Id("Server"), jen.Error()).Block(
		jen.If(jen.Id("opts").Dot("Handler").Op("==").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual("errors", "New").Call(jen.Lit(f.Package+": ServerOptions.Handler is nil")))),
		jen.Return(jen.Qual(serverPkg, "New").Call(jen.Qual(serverPkg, "Options").Values(opts), jen.Op("&").Id("serverTable"), jen.Id("opts").Dot("Handler"))),
	).Line()
	file.Comment("Compile-time check that the runtime this package was generated for is linked in.")
	file.Const().Id("_").Op("=").Qual(serverPkg, "SupportPackageIsVersion1").Line()
}
