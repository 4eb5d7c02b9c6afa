//go:build tools

// Package tools pins the modules that Lintel's packages import, so that
// `go mod tidy` keeps them while packages are being written in parallel.
package tools

import (
	_ "firebase.google.com/go/v4/messaging"
	_ "github.com/boombuler/barcode/qr"
	_ "github.com/chromedp/chromedp"
	_ "github.com/gballet/go-libpcsclite"
	_ "github.com/gin-gonic/gin"
	_ "github.com/glebarez/sqlite"
	_ "github.com/go-ble/ble"
	_ "github.com/go-ble/ble/linux/att"
	_ "github.com/go-ble/ble/linux/gatt"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lestrrat-go/jwx/v2/jws"
	_ "github.com/makiuchi-d/gozxing/qrcode"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/sideshow/apns2"
	_ "github.com/smallstep/pkcs7"
	_ "github.com/twilio/twilio-go"
	_ "github.com/warthog618/go-gpiocdev"
	_ "go.etcd.io/bbolt"
	_ "google.golang.org/api/option"
	_ "gopkg.in/yaml.v3"
	_ "gorm.io/driver/postgres"
	_ "gorm.io/gorm"
)
