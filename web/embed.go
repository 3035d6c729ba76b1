// Package web holds the browser client's built bundle (web/dist, produced by
// esbuild from web/src) embedded into the server binary.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built client. It may hold only a placeholder when the
// bundle was not built; callers check for index.html.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "dist" is a constant.
		panic(err)
	}
	return sub
}
