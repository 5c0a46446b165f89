package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

func genClientStreamCall(c *schema.Call, n callNames, nm *names, file *jen.File) {
	params, reqArg, body := clientRequest(n)
	body = append(body,
		jen.List(jen.Id("s"), jen.Err()).Op(":=").Id("c").Dot("conn").Dot("OpenStream").Call(jen.Id("ctx"), jen.Id(n.clientInfo), reqArg),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Op("&").Id(n.Stream).Values(jen.Dict{jen.Id("s"): jen.Id("s")}), jen.Nil()),
	)
	file.Add(docComment(n.Method, c.Doc, "opens a stream of "+c.Stream.Name+" frames on a connection of its own."))
	file.Func().Params(jen.Id("c").Op("*").Id("Client")).Id(n.Method).Params(params...).Params(jen.Op("*").Id(n.Stream), jen.Error()).
		Block(body...).Line()
}

func genClientStreamType(c *schema.Call, n callNames, nm *names, file *jen.File) {
	frame := jen.Op("*").Id(n.FrameType)
	newFrame := jen.New(jen.Id(n.FrameType))
	if n.FrameType == "" { // frames without payload: Recv reports their arrival only
		frame = jen.Struct()
		newFrame = nil
	}
	end := "when the server ends the stream"
	if c.LastWhen != nil {
		end = "after the frame with " + c.LastWhen.Name + " true, or " + end
	}
	file.Comment(comment(n.Stream + " is the client's end of the " + n.Method + " stream (its frames are " + n.MsgResponse + " messages). Recv returns its frames, then io.EOF " + end + ". Close it when done."))
	file.Type().Id(n.Stream).Struct(
		jen.Id("s").Op("*").Qual(clientPkg, "Stream"),
		jen.Id("done").Qual("sync/atomic", "Bool"), // set by Close or the last frame; read by Recv
	).Line()
	var recv []jen.Code
	if n.FrameType == "" {
		recv = append(recv, jen.If(jen.Id("x").Dot("done").Dot("Load").Call()).Block(jen.Return(jen.Struct().Values(), jen.Qual("io", "EOF"))))
	}
	if newFrame != nil {
		genStreamRecvInto(c, n, nm, file)
		recv = append(recv,
			jen.Id("p").Op(":=").Add(newFrame),
			jen.If(jen.Err().Op(":=").Id("x").Dot("RecvInto").Call(jen.Id("p")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
			jen.Return(jen.Id("p"), jen.Nil()))
	} else {
		recv = append(recv, jen.Return(jen.Struct().Values(), jen.Id("x").Dot("s").Dot("RecvInto").Call(jen.Nil())))
	}
	file.Comment("Recv returns the next frame in a new value.")
	file.Func().Params(jen.Id("x").Op("*").Id(n.Stream)).Id("Recv").Params().Params(frame.Clone(), jen.Error()).Block(recv...).Line()
	file.Comment("Close ends the stream and closes its connection.")
	file.Func().Params(jen.Id("x").Op("*").Id(n.Stream)).Id("Close").Params().Error().Block(
		jen.Id("x").Dot("done").Dot("Store").Call(jen.True()),
		jen.Return(jen.Id("x").Dot("s").Dot("Close").Call()),
	).Line()
	file.Comment("All ranges over the remaining frames; it yields a non-nil error once, when the stream")
	file.Comment("fails, and closes the stream when the loop ends.")
	file.Func().Params(jen.Id("x").Op("*").Id(n.Stream)).Id("All").Params().Qual("iter", "Seq2").Types(frame.Clone(), jen.Error()).Block(
		jen.Return(jen.Func().Params(jen.Id("yield").Func().Params(frame.Clone(), jen.Error()).Bool()).Block(
			jen.Defer().Id("x").Dot("Close").Call(),
			jen.For().Block(
				jen.List(jen.Id("p"), jen.Err()).Op(":=").Id("x").Dot("Recv").Call(),
				jen.If(jen.Err().Op("==").Qual("io", "EOF")).Block(jen.Return()),
				jen.If(jen.Op("!").Id("yield").Call(jen.Id("p"), jen.Err()).Op("||").Err().Op("!=").Nil()).Block(jen.Return()),
			),
		)),
	).Line()
}

// genStreamRecvInto emits RecvInto, which decodes the next frame into the
// caller's value: it is zeroed first, but its byte slices keep their
// capacity, so a loop over a stream of large chunks reuses one buffer.
func genStreamRecvInto(c *schema.Call, n callNames, nm *names, file *jen.File) {
	keep := jen.Dict{}
	for _, f := range c.Stream.Payload.Fields {
		if f.Type.Kind == schema.KindBytes {
			keep[jen.Id(f.Name)] = jen.Id("p").Dot(f.Name).Index(jen.Empty(), jen.Lit(0))
		}
	}
	body := []jen.Code{
		jen.If(jen.Id("x").Dot("done").Dot("Load").Call()).Block(jen.Return(jen.Qual("io", "EOF"))),
		jen.Op("*").Id("p").Op("=").Id(n.FrameType).Values(keep),
		jen.If(jen.Err().Op(":=").Id("x").Dot("s").Dot("RecvInto").Call(jen.Id("p")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
	}
	if c.LastWhen != nil {
		body = append(body, jen.If(jen.Id("p").Dot(c.LastWhen.Name)).Block(
			jen.Id("x").Dot("done").Dot("Store").Call(jen.True()),
			jen.Id("_").Op("=").Id("x").Dot("s").Dot("Close").Call(),
		))
	}
	body = append(body, jen.Return(jen.Nil()))
	file.Comment("RecvInto decodes the next frame into p, reusing the capacity of its byte slices;")
	file.Comment("p must not be nil. It returns io.EOF where Recv would.")
	file.Func().Params(jen.Id("x").Op("*").Id(n.Stream)).Id("RecvInto").Params(jen.Id("p").Op("*").Id(n.FrameType)).Error().Block(body...).Line()
}
