package videoload

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/demo/democam"
)

// ClientMain runs `citywall bench video-clients`, the child of Main: the
// cameras and the viewers. It takes JSON commands on stdin and answers with
// JSON events on stdout.
func ClientMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench video-clients", flag.ContinueOnError)
	clipPath := fs.String("clip", "", "Annex-B H.264 clip, 25 fps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raiseFileLimit()
	var outMu sync.Mutex
	emit := func(v map[string]any) {
		b, _ := json.Marshal(v)
		outMu.Lock()
		defer outMu.Unlock()
		_, _ = stdout.Write(append(b, '\n'))
	}
	fail := func(err error) error {
		emit(map[string]any{"event": "error", "error": err.Error()})
		return err
	}
	raw, err := os.ReadFile(*clipPath)
	if err != nil {
		return fail(err)
	}
	clip, err := democam.ParseClip(raw, democam.H264, 25)
	if err != nil {
		return fail(err)
	}
	cam, err := democam.Start(democam.Options{Clip: clip})
	if err != nil {
		return fail(err)
	}
	defer cam.Close()
	emit(map[string]any{"event": "camera", "addr": cam.Addr()})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var viewers []*viewer
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var cmd struct {
			Cmd     string   `json:"cmd"`
			URL     string   `json:"url"`
			Token   string   `json:"token"`
			Cameras []string `json:"cameras"`
			Viewers int      `json:"viewers"`
			N       int      `json:"n"`
		}
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			return fail(err)
		}
		h := http.Header{"Authorization": {"Bearer " + cmd.Token}}
		switch cmd.Cmd {
		case "watch":
			var started sync.WaitGroup
			for _, id := range cmd.Cameras {
				for range cmd.Viewers {
					conn, resp, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10}).Dial(cmd.URL+id, h)
					if err != nil {
						if resp != nil {
							b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
							err = fmt.Errorf("%w: %d %s", err, resp.StatusCode, b)
						}
						return fail(fmt.Errorf("dial %s: %w", id, err))
					}
					v := &viewer{conn: conn, first: make(chan struct{})}
					viewers = append(viewers, v)
					started.Add(1)
					wg.Go(func() { v.read(ctx, &started) })
				}
			}
			started.Wait()
			emit(map[string]any{"event": "watching", "viewers": len(viewers)})
		case "mark":
			for _, v := range viewers {
				v.frames.Store(0)
			}
			emit(map[string]any{"event": "marked"})
		case "report":
			var total, least int64 = 0, -1
			for _, v := range viewers {
				n := v.frames.Load()
				total += n
				if least < 0 || n < least {
					least = n
				}
			}
			emit(map[string]any{"event": "report", "frames": total, "min_frames": least})
		case "probe":
			var ms []float64
			for range cmd.N {
				start := time.Now()
				conn, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial(cmd.URL, h)
				if err != nil {
					return fail(err)
				}
				v := &viewer{conn: conn, first: make(chan struct{})}
				var one sync.WaitGroup
				one.Add(1)
				pctx, pcancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { v.read(pctx, &one); close(done) }()
				select {
				case <-v.first:
					ms = append(ms, float64(time.Since(start).Microseconds())/1000)
				case <-time.After(10 * time.Second):
				}
				pcancel()
				_ = conn.Close()
				<-done
				time.Sleep(150 * time.Millisecond)
			}
			emit(map[string]any{"event": "probed", "ms": ms})
		case "stop":
			cancel()
			for _, v := range viewers {
				_ = v.conn.Close()
			}
			return nil
		}
	}
	return nil
}

// viewer reads one video connection, counting media fragments.
type viewer struct {
	conn   *websocket.Conn
	frames atomic.Int64
	first  chan struct{}
}

func (v *viewer) read(ctx context.Context, started *sync.WaitGroup) {
	go func() {
		<-ctx.Done()
		_ = v.conn.Close()
	}()
	init := false
	signalled := false
	for {
		typ, r, err := v.conn.NextReader()
		if err != nil {
			if !signalled {
				started.Done()
			}
			return
		}
		if typ == websocket.TextMessage {
			var m struct {
				Type string `json:"type"`
			}
			b, _ := io.ReadAll(r)
			if json.Unmarshal(b, &m) == nil && m.Type == "codec" {
				init = false
			}
			continue
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			continue
		}
		if !init {
			init = true
			continue
		}
		v.frames.Add(1)
		if !signalled {
			signalled = true
			close(v.first)
			started.Done()
		}
	}
}
