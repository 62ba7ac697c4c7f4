// Map layer `alerts`: a pulsing ring at each open alert, red while
// unacknowledged, blue once acknowledged, with the count of a cluster.
export function layer(ctx) {
  let data = new Map();
  const sub = ctx.hub.subscribe('alerts', (u, tp) => {
    data = tp.state;
    if (typeof ctx.invalidate === 'function') ctx.invalidate();
  }, { kind: 'state' });

  return {
    draw(g, project) {
      const now = Date.now();
      for (const a of data.values()) {
        if (!Number.isFinite(a.lat) || !Number.isFinite(a.lng) || (a.lat === 0 && a.lng === 0)) continue;
        const [x, y] = project(a.lat, a.lng);
        const firing = a.state === 'firing';
        const color = firing ? (a.severity === 'critical' ? '255,59,59' : '255,176,32') : '79,195,255';
        const phase = firing ? (now % 1600) / 1600 : 0;
        const base = a.source === 'cluster' ? 18 : 11;
        g.save();
        g.beginPath();
        g.arc(x, y, base + phase * 22, 0, Math.PI * 2);
        g.strokeStyle = `rgba(${color},${0.9 * (1 - phase)})`;
        g.lineWidth = 4;
        g.stroke();
        g.beginPath();
        g.arc(x, y, base * 0.55, 0, Math.PI * 2);
        g.fillStyle = `rgba(${color},0.85)`;
        g.fill();
        if (a.cluster && a.cluster.count) {
          g.fillStyle = '#fff';
          g.font = `bold ${Math.round(base * 0.7)}px sans-serif`;
          g.textAlign = 'center';
          g.textBaseline = 'middle';
          g.fillText(String(a.cluster.count), x, y);
        }
        g.restore();
      }
    },
    destroy() {
      sub.close();
      data = new Map();
    },
  };
}
