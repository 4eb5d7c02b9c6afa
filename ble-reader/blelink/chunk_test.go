package blelink

import (
	"bytes"
	"errors"
	"testing"
)

func TestChunkFlag(t *testing.T) {
	tests := []struct {
		seq   int
		final bool
		want  byte
	}{
		{0, false, 0x00},
		{0, true, 0x01},
		{1, false, 0x02},
		{5, true, 0x0B},
		{127, false, 0xFE},
		{128, true, 0x01}, // wraps mod 128
	}
	for _, tc := range tests {
		if got := ChunkFlag(tc.seq, tc.final); got != tc.want {
			t.Errorf("ChunkFlag(%d, %v) = %#02x, want %#02x", tc.seq, tc.final, got, tc.want)
		}
	}
}

func TestSplitReassembleRoundTrip(t *testing.T) {
	for _, maxValue := range []int{2, 3, 20, 21, 181, 512} {
		for _, size := range []int{0, 1, 19, 20, 21, 600, 3000, 4096} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i * 31)
			}
			chunks, err := SplitChunks(msg, maxValue)
			if err != nil {
				t.Fatal(err)
			}
			per := maxValue - 1
			wantN := max(1, (size+per-1)/per)
			if len(chunks) != wantN {
				t.Fatalf("max %d size %d: %d chunks, want %d", maxValue, size, len(chunks), wantN)
			}
			r := NewReassembler(4096)
			for i, c := range chunks {
				if len(c) > maxValue {
					t.Fatalf("chunk %d is %d bytes > %d", i, len(c), maxValue)
				}
				got, done, err := r.Add(c)
				if err != nil {
					t.Fatalf("max %d size %d chunk %d: %v", maxValue, size, i, err)
				}
				if done != (i == len(chunks)-1) {
					t.Fatalf("chunk %d done = %v", i, done)
				}
				if done && !bytes.Equal(got, msg) {
					t.Fatalf("max %d size %d: reassembled message differs", maxValue, size)
				}
			}
		}
	}
}

func TestSplitChunksTooSmall(t *testing.T) {
	if _, err := SplitChunks([]byte("x"), 1); err == nil {
		t.Fatal("value limit 1 leaves no room for payload; want error")
	}
}

func TestReassemblerRefuses(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		chunks [][]byte
		want   error
	}{
		{"empty chunk", 100, [][]byte{{}}, ErrChunkEmpty},
		{"first chunk not seq 0", 100, [][]byte{{ChunkFlag(1, true), 'a'}}, ErrChunkSequence},
		{"gap", 100, [][]byte{{ChunkFlag(0, false), 'a'}, {ChunkFlag(2, true), 'b'}}, ErrChunkSequence},
		{"repeat", 100, [][]byte{{ChunkFlag(0, false), 'a'}, {ChunkFlag(0, true), 'b'}}, ErrChunkSequence},
		{"over cap", 3, [][]byte{{ChunkFlag(0, false), 'a', 'b'}, {ChunkFlag(1, true), 'c', 'd'}}, ErrMessageSize},
		{"after final", 100, [][]byte{{ChunkFlag(0, true), 'a'}, {ChunkFlag(1, true), 'b'}}, ErrAfterFinal},
		{"second message", 100, [][]byte{{ChunkFlag(0, true), 'a'}, {ChunkFlag(0, true), 'b'}}, ErrAfterFinal},
		{"error sticks", 100, [][]byte{{ChunkFlag(3, false)}, {ChunkFlag(0, true), 'a'}}, ErrChunkSequence},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReassembler(tc.max)
			var err error
			for _, c := range tc.chunks {
				_, _, err = r.Add(c)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReassemblerSequenceWraps(t *testing.T) {
	msg := bytes.Repeat([]byte{7}, 300)
	chunks, err := SplitChunks(msg, 2) // one byte per chunk: 300 chunks, seq wraps twice
	if err != nil {
		t.Fatal(err)
	}
	r := NewReassembler(300)
	var got []byte
	for _, c := range chunks {
		m, done, err := r.Add(c)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			got = m
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("message lost across sequence wrap")
	}
}

// FuzzReassemble feeds arbitrary chunk streams (first byte of the input =
// chunk length, repeated) to the reassembler. It must never panic, never
// exceed its cap, and what it returns must be the concatenated payloads of
// a gap-free sequence ending in a final chunk.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{2, 0x01, 'a'})
	f.Add([]byte{3, 0x00, 'a', 'b', 2, 0x03, 'c'})
	f.Add([]byte{0, 1, 0x01})
	f.Add([]byte{2, 0x02, 'x', 2, 0x01, 'y'})
	f.Fuzz(func(t *testing.T, in []byte) {
		const maxSize = 64
		r := NewReassembler(maxSize)
		var want []byte
		finished := false
		for len(in) > 0 {
			n := int(in[0])
			in = in[1:]
			n = min(n, len(in))
			chunk := in[:n]
			in = in[n:]
			msg, done, err := r.Add(chunk)
			if r.Len() > maxSize {
				t.Fatalf("holds %d bytes > cap %d", r.Len(), maxSize)
			}
			if err != nil {
				if done || msg != nil {
					t.Fatal("error with a message")
				}
				continue
			}
			if finished {
				t.Fatal("accepted a chunk after the final one")
			}
			want = append(want, chunk[1:]...)
			if done {
				finished = true
				if !bytes.Equal(msg, want) {
					t.Fatalf("message %x, want %x", msg, want)
				}
				if len(msg) > maxSize {
					t.Fatalf("message of %d bytes > cap", len(msg))
				}
			}
		}
	})
}
