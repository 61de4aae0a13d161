package sink

// AppendHandlerPath is AppendHandler with the COPY path it took: "binary"
// (internal/pgcopy), "generic" (pgx.CopyFrom), or "" before a first batch.
func AppendHandlerPath(table string) (Handler, func() string) {
	a := newAppendCopy(table)
	return a.write, func() string {
		switch a.mode.Load() {
		case copyBinary:
			return "binary"
		case copyGeneric:
			return "generic"
		}
		return ""
	}
}
