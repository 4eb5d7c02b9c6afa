package wallet

import (
	"bytes"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image/png"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The default pass images, drawn by gen_images.go.
//
//go:embed template/*.png
var templateFS embed.FS

// Limits for a site's own images: Apple's largest image (a @3x strip) is
// well under both.
const (
	maxImageBytes = 512 << 10
	maxImageSide  = 1125
)

// imageBases are the images a generic pass uses; each may come in @2x and
// @3x variants.
var imageBases = []string{"icon", "logo", "thumbnail"}

// ErrBadImage is the cause of an *ImageError.
var ErrBadImage = errors.New("unusable pass image")

// ImageError names the image file that was refused and why.
type ImageError struct {
	Name   string
	Detail string
}

func (e *ImageError) Error() string {
	return "wallet: image " + e.Name + ": " + e.Detail
}

func (e *ImageError) Unwrap() error { return ErrBadImage }

// Images is a ready set of pass images: validated, hashed for the manifest
// and checksummed for the zip once, so building a pass only copies bytes.
// It is immutable and safe to share between goroutines; cache one per site.
type Images struct {
	files []imageFile // sorted by name
}

type imageFile struct {
	name string
	data []byte
	sha1 string // hex, as manifest.json wants it
	crc  uint32
}

// Names lists the files in the set, sorted.
func (im *Images) Names() []string {
	out := make([]string, len(im.files))
	for i, f := range im.files {
		out[i] = f.name
	}
	return out
}

// DefaultImages returns the built-in template (a door under a lintel).
func DefaultImages() *Images {
	im, err := ImagesFromFiles(nil)
	if err != nil {
		// The template is compiled in and covered by tests.
		panic("wallet: broken embedded image template: " + err.Error())
	}
	return im
}

// LoadImages reads a site's own images from the top directory of fsys
// (for example os.DirFS("/etc/lintel/sites/site_x/wallet")) and lays them
// over the default template. See ImagesFromFiles for the rules.
func LoadImages(fsys fs.FS) (*Images, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, &ImageError{Name: ".", Detail: "cannot list the image directory: " + fsReason(err)}
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // editor and OS droppings (.DS_Store)
		}
		if e.IsDir() {
			return nil, &ImageError{Name: name, Detail: "is a directory; pass images sit at the top level"}
		}
		if info, err := e.Info(); err == nil && info.Size() > maxImageBytes {
			return nil, &ImageError{Name: name, Detail: fmt.Sprintf("is %d bytes; the limit is %d", info.Size(), maxImageBytes)}
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, &ImageError{Name: name, Detail: "cannot be read: " + fsReason(err)}
		}
		files[name] = b
	}
	return ImagesFromFiles(files)
}

// ImagesFromFiles lays the given files (name -> PNG bytes) over the default
// template. Allowed names are icon, logo and thumbnail, each as .png, @2x.png
// and @3x.png. Overriding any variant of a name replaces all its default
// variants (a site's logo is never mixed with the default logo's @2x), and
// then the plain <name>.png must be among the files, since devices fall
// back to it. Every file must be a PNG of at most 512 KiB and 1125 pixels a
// side.
func ImagesFromFiles(files map[string][]byte) (*Images, error) {
	overridden := map[string]bool{}
	for name, data := range files {
		base, ok := imageBase(name)
		if !ok {
			return nil, &ImageError{Name: name, Detail: "is not a pass image name (use icon, logo or thumbnail, as .png, @2x.png or @3x.png)"}
		}
		if err := checkPNG(data); err != "" {
			return nil, &ImageError{Name: name, Detail: err}
		}
		overridden[base] = true
	}
	for base := range overridden {
		if _, ok := files[base+".png"]; !ok {
			return nil, &ImageError{Name: base + ".png", Detail: "is required when any " + base + " variant is given"}
		}
	}
	merged := make(map[string][]byte)
	defaults, err := fs.ReadDir(templateFS, "template")
	if err != nil {
		return nil, err
	}
	for _, e := range defaults {
		base, _ := imageBase(e.Name())
		if overridden[base] {
			continue
		}
		b, err := templateFS.ReadFile(path.Join("template", e.Name()))
		if err != nil {
			return nil, err
		}
		merged[e.Name()] = b
	}
	for name, data := range files {
		merged[name] = bytes.Clone(data) // the caller may reuse its buffers
	}
	if _, ok := merged["icon.png"]; !ok {
		return nil, &ImageError{Name: "icon.png", Detail: "is required by Apple Wallet"}
	}
	im := &Images{files: make([]imageFile, 0, len(merged))}
	for name, data := range merged {
		sum := sha1.Sum(data)
		im.files = append(im.files, imageFile{name: name, data: data, sha1: hex.EncodeToString(sum[:]), crc: crc32.ChecksumIEEE(data)})
	}
	sort.Slice(im.files, func(i, j int) bool { return im.files[i].name < im.files[j].name })
	return im, nil
}

// imageBase maps "logo@2x.png" to "logo" if it is an allowed image name.
func imageBase(name string) (string, bool) {
	stem, ok := strings.CutSuffix(name, ".png")
	if !ok {
		return "", false
	}
	stem = strings.TrimSuffix(strings.TrimSuffix(stem, "@2x"), "@3x")
	for _, b := range imageBases {
		if stem == b {
			return b, true
		}
	}
	return "", false
}

// checkPNG returns why data is not an acceptable image, or "".
func checkPNG(data []byte) string {
	if len(data) > maxImageBytes {
		return fmt.Sprintf("is %d bytes; the limit is %d", len(data), maxImageBytes)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "is not a PNG image"
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide {
		return fmt.Sprintf("is %dx%d pixels; each side must be 1 to %d", cfg.Width, cfg.Height, maxImageSide)
	}
	return ""
}
