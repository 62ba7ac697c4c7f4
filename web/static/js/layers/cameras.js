// Map layer of the cameras: a marker per camera of the hub's `cameras`
// topic, coloured by its state (live green, down red, connecting amber,
// idle grey), with a ring when a tile reports its picture frozen.
//
// export function layer(ctx) -> {draw(ctx2d, project), destroy()}
// ctx.hub is the page's Hub; ctx.redraw, when given, is called when the
// cameras change.

const COLORS = {
  live: '#39d98a',
  connecting: '#ffb020',
  stalled: '#ff3b3b',
  offline: '#ff3b3b',
  unsupported: '#ff8a3b',
  idle: '#7d90ab',
};

export function layer(ctx = {}) {
  let cams = new Map();
  let sub = null;
  if (ctx.hub) {
    sub = ctx.hub.subscribe('cameras', (_ev, topic) => {
      cams = topic.state;
      if (typeof ctx.redraw === 'function') ctx.redraw();
    }, { kind: 'state' });
  }
  return {
    draw(g, project) {
      const dpr = (typeof window !== 'undefined' && window.devicePixelRatio) || 1;
      const r = 6 * dpr;
      for (const cam of cams.values()) {
        if (!cam || typeof cam.lat !== 'number' || typeof cam.lng !== 'number') continue;
        const [x, y] = project(cam.lat, cam.lng);
        g.save();
        // A small camera body with its lens, readable from across the room.
        g.fillStyle = COLORS[cam.state] || COLORS.idle;
        g.strokeStyle = 'rgba(3,7,13,0.9)';
        g.lineWidth = 1.5 * dpr;
        g.beginPath();
        g.roundRect ? g.roundRect(x - r, y - r * 0.7, r * 2, r * 1.4, r * 0.3) : g.rect(x - r, y - r * 0.7, r * 2, r * 1.4);
        g.fill();
        g.stroke();
        g.fillStyle = 'rgba(3,7,13,0.9)';
        g.beginPath();
        g.arc(x, y, r * 0.38, 0, Math.PI * 2);
        g.fill();
        if (cam.frozen > 0) {
          g.strokeStyle = '#ff3b3b';
          g.lineWidth = 2 * dpr;
          g.beginPath();
          g.arc(x, y, r * 1.7, 0, Math.PI * 2);
          g.stroke();
        }
        g.restore();
      }
    },
    destroy() {
      if (sub) sub.close();
      sub = null;
      cams = new Map();
    },
  };
}
