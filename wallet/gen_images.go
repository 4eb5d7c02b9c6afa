//go:build ignore

// gen_images draws the default Wallet pass images in template/: a door under
// a lintel, white on Lintel blue for the icon (shown in notifications and on
// the lock screen) and white on transparent for the logo (drawn on the pass's
// own background colour). Run with `go generate ./wallet`; the PNGs are
// committed, so nothing runs at build or start time.
package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// The glyph in unit coordinates: a lintel bar and a door outline under it.
type rect struct{ x0, y0, x1, y1 float64 }

var glyph = []rect{
	{0.22, 0.18, 0.78, 0.28}, // lintel
	{0.30, 0.28, 0.38, 0.84}, // left jamb
	{0.62, 0.28, 0.70, 0.84}, // right jamb
	{0.38, 0.28, 0.62, 0.34}, // head of the frame
	{0.52, 0.54, 0.57, 0.59}, // knob
}

var blue = color.NRGBA{R: 30, G: 58, B: 95, A: 255}

func inGlyph(x, y float64) bool {
	for _, r := range glyph {
		if x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1 {
			return true
		}
	}
	return false
}

// inRounded reports whether (x, y) is inside a unit square with corner radius r.
func inRounded(x, y, r float64) bool {
	cx := math.Min(math.Max(x, r), 1-r)
	cy := math.Min(math.Max(y, r), 1-r)
	return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
}

// draw renders a size×size image with 4×4 supersampling, so edges are smooth.
func draw(size int, withBackground bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var bg, fg int
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					switch {
					case inGlyph(x, y):
						fg++
					case withBackground && inRounded(x, y, 0.2):
						bg++
					}
				}
			}
			n := ss * ss
			a := (fg + bg) * 255 / n
			if a == 0 {
				continue
			}
			// Premultiply-free blend of white (fg) and blue (bg) by coverage.
			mix := func(w uint8) uint8 { return uint8((fg*255 + bg*int(w)) / (fg + bg)) }
			img.SetNRGBA(px, py, color.NRGBA{R: mix(blue.R), G: mix(blue.G), B: mix(blue.B), A: uint8(a)})
		}
	}
	return img
}

func main() {
	files := []struct {
		name   string
		size   int
		bgfill bool
	}{
		{"icon.png", 29, true},
		{"icon@2x.png", 58, true},
		{"icon@3x.png", 87, true},
		{"logo.png", 50, false},
		{"logo@2x.png", 100, false},
		{"logo@3x.png", 150, false},
	}
	for _, f := range files {
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, draw(f.size, f.bgfill)); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("template", f.name), buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
