package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// decodeRequest declares req (when the request has a payload) and decodes
// body into it; an undecodable body returns a *server.DecodeError. A
// payload-less request accepts an empty body or one msgpack value (a
// reflection client's nil) and ignores it.
func decodeRequest(n callNames, fail ...jen.Code) []jen.Code {
	decErr := jen.Op("&").Qual(serverPkg, "DecodeError").Values(jen.Dict{
		jen.Id("Method"): jen.Lit(n.Method),
		jen.Id("Err"):    jen.Err(),
	})
	if n.ReqType == "" {
		return []jen.Code{
			jen.If(jen.Len(jen.Id("body")).Op(">").Lit(0)).Block(
				jen.If(jen.List(jen.Id("rest"), jen.Err()).Op(":=").Qual(msgpPkg, "Skip").Call(jen.Id("body")),
					jen.Err().Op("!=").Nil().Op("||").Len(jen.Id("rest")).Op("!=").Lit(0)).Block(
					jen.If(jen.Err().Op("==").Nil()).Block(jen.Err().Op("=").Qual(ipcPkg, "ErrTrailingBytes")),
					jen.Return(append(fail, decErr)...),
				),
			),
		}
	}
	return []jen.Code{
		jen.Id("req").Op(":=").New(jen.Id(n.ReqType)),
		jen.If(jen.Err().Op(":=").Qual(ipcPkg, "DecodePayload").Call(jen.Id("body"), jen.Id("req")), jen.Err().Op("!=").Nil()).
			Block(jen.Return(append(fail, decErr)...)),
	}
}

// reqArgs are the arguments after ctx of a Handler call: req, when there is one.
func reqArgs(n callNames, req jen.Code) []jen.Code {
	if n.ReqType == "" {
		return nil
	}
	return []jen.Code{req}
}

// reqAny is the request as interceptors see it: req, or nil without a payload.
func reqAny(n callNames) jen.Code {
	if n.ReqType == "" {
		return jen.Nil()
	}
	return jen.Id("req")
}

// assertReq converts an interceptor's req back to the typed request, failing
// with a clear error when an interceptor replaced it with another type.
func assertReq(n callNames, fail ...jen.Code) []jen.Code {
	if n.ReqType == "" {
		return nil
	}
	return []jen.Code{
		jen.List(jen.Id("r"), jen.Id("ok")).Op(":=").Id("req").Assert(ptr(n.ReqType)),
		jen.If(jen.Op("!").Id("ok")).Block(jen.Return(append(fail,
			jen.Qual("fmt", "Errorf").Call(jen.Lit("interceptor passed a %T to "+n.Method+", want *"+n.ReqType), jen.Id("req")))...)),
	}
}

func genServerGlue(f *schema.File, c *schema.Call, nm *names, file *jen.File) {
	n := nm.Call(c)
	file.Var().Id(n.serverInfo).Op("=").Op("&").Qual(serverPkg, "CallInfo").Values(jen.Dict{
		jen.Id("Protocol"): jen.Lit(f.Package),
		jen.Id("Method"):   jen.Lit(n.Method),
		jen.Id("Request"):  jen.Id(n.MsgRequest),
	}).Line()
	if c.Stream != nil {
		genStreamGlue(n, nm, file)
		return
	}
	genUnaryGlue(c, n, nm, file)
}

func genStreamGlue(n callNames, nm *names, file *jen.File) {
	sender := jen.Id(n.senderImpl).Values(jen.Id("s"))
	next := jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("req").Any(), jen.Id("s").Op("*").Qual(serverPkg, "Stream")).Error().
		Block(append(assertReq(n), jen.Return(jen.Id("h").Dot(n.Method).Call(append(append([]jen.Code{jen.Id("ctx")}, reqArgs(n, jen.Id("r"))...), sender)...)))...)
	body := decodeRequest(n)
	body = append(body,
		jen.Id("h").Op(":=").Id("impl").Assert(jen.Id("Handler")),
		jen.If(jen.Id("intercept").Op("==").Nil()).Block(
			jen.Return(jen.Id("h").Dot(n.Method).Call(append(append([]jen.Code{jen.Id("ctx")}, reqArgs(n, jen.Id("req"))...), sender.Clone())...))),
		jen.Return(jen.Id("intercept").Call(jen.Id("ctx"), reqAny(n), jen.Id("s"), jen.Id(n.serverInfo), next)),
	)
	file.Func().Id(n.serverGlue).Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("impl").Any(), jen.Id("body").Index().Byte(),
		jen.Id("s").Op("*").Qual(serverPkg, "Stream"), jen.Id("intercept").Qual(serverPkg, "StreamInterceptor"),
	).Error().Block(body...).Line()
}

func genUnaryGlue(c *schema.Call, n callNames, nm *names, file *jen.File) {
	call := func(req string) *jen.Statement {
		return jen.Id("h").Dot(n.Method).Call(append([]jen.Code{jen.Id("ctx")}, reqArgs(n, jen.Id(req))...)...)
	}
	body := decodeRequest(n, jen.Nil())
	body = append(body, jen.Id("h").Op(":=").Id("impl").Assert(jen.Id("Handler")))
	if n.RespType == "" {
		next := jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("req").Any()).Params(jen.Any(), jen.Error()).
			Block(append(assertReq(n, jen.Nil()), jen.Return(jen.Nil(), call("r")))...)
		body = append(body,
			jen.Var().Err().Error(),
			jen.If(jen.Id("intercept").Op("==").Nil()).Block(jen.Err().Op("=").Add(call("req"))).
				Else().Block(jen.List(jen.Id("_"), jen.Err()).Op("=").Id("intercept").Call(jen.Id("ctx"), reqAny(n), jen.Id(n.serverInfo), next)),
			jen.Return(jen.Nil(), jen.Err()),
		)
	} else {
		next := jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("req").Any()).Params(jen.Any(), jen.Error()).
			Block(append(assertReq(n, jen.Nil()), jen.Return(call("r")))...)
		body = append(body,
			jen.Var().Id("resp").Add(ptr(n.RespType)),
			jen.Var().Err().Error(),
			jen.If(jen.Id("intercept").Op("==").Nil()).Block(jen.List(jen.Id("resp"), jen.Err()).Op("=").Add(call("req"))).
				Else().Block(
				jen.Var().Id("out").Any(),
				jen.List(jen.Id("out"), jen.Err()).Op("=").Id("intercept").Call(jen.Id("ctx"), reqAny(n), jen.Id(n.serverInfo), next),
				jen.Var().Id("ok").Bool(),
				jen.If(jen.List(jen.Id("resp"), jen.Id("ok")).Op("=").Id("out").Assert(ptr(n.RespType)),
					jen.Op("!").Id("ok").Op("&&").Id("out").Op("!=").Nil().Op("&&").Err().Op("==").Nil()).Block(
					jen.Err().Op("=").Qual("fmt", "Errorf").Call(jen.Lit("interceptor returned a %T from "+n.Method+", want *"+n.RespType), jen.Id("out")),
				),
			),
		)
		body = append(body, unaryResult(c, n)...)
	}
	file.Func().Id(n.serverGlue).Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("impl").Any(), jen.Id("body").Index().Byte(),
		jen.Id("intercept").Qual(serverPkg, "UnaryInterceptor"),
	).Params(jen.Qual(msgpPkg, "Marshaler"), jen.Error()).Block(body...).Line()
}

// unaryResult turns (resp, err) into what the runtime encodes: a handler
// error goes into the response's error field when the call has one.
func unaryResult(c *schema.Call, n callNames) []jen.Code {
	var out []jen.Code
	if c.ErrorField != nil {
		out = append(out, jen.If(jen.Err().Op("!=").Nil()).Block(
			jen.If(jen.Id("resp").Op("==").Nil()).Block(jen.Id("resp").Op("=").New(jen.Id(n.RespType))),
			jen.Id("resp").Dot(c.ErrorField.Name).Op("=").Qual(serverPkg, "ErrorText").Call(jen.Lit(n.Method), jen.Err()),
			jen.Return(jen.Id("resp"), jen.Nil()),
		))
	} else {
		out = append(out, jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())))
	}
	return append(out,
		jen.If(jen.Id("resp").Op("==").Nil()).Block(jen.Id("resp").Op("=").New(jen.Id(n.RespType))),
		jen.Return(jen.Id("resp"), jen.Nil()),
	)
}
