// Map layer: road segments coloured by congestion (1 smooth green – 4
// jammed dark red; grey when stale or without data) and incident markers.
// Data: hub state topic feeds/traffic. ctx: {hub, lang, redraw?}.

import { COLORS, copyState } from '../feeds/common.js';

export function layer(ctx) {
  const feed = copyState(ctx.hub, 'feeds/traffic', () => { if (ctx.redraw) ctx.redraw(); });
  const state = feed.state;

  return {
    draw(c, project) {
      const scale = Math.max(1, c.canvas.width / 1200);
      c.save();
      c.lineCap = 'round';
      c.lineJoin = 'round';
      const roads = [...state.values()].filter((v) => v.kind === 'road' && v.polyline && v.polyline.length > 1)
        .sort((a, b) => a.level - b.level); // jams on top
      for (const v of roads) {
        const pts = v.polyline.map(([la, ln]) => project(la, ln));
        // dark casing, then the colour
        c.strokeStyle = 'rgba(0,0,0,0.65)';
        c.lineWidth = (v.key ? 9 : 7) * scale;
        c.setLineDash([]);
        path(c, pts);
        c.strokeStyle = v.stale ? COLORS.stale : COLORS.level[v.level] || COLORS.nodata;
        c.lineWidth = (v.key ? 5.5 : 4) * scale;
        if (v.stale) c.setLineDash([6 * scale, 6 * scale]);
        path(c, pts);
      }
      c.setLineDash([]);
      for (const [k, v] of state) {
        if (!k.startsWith('incident:')) continue;
        const [x, y] = project(v.lat, v.lng);
        const r = 9 * scale;
        c.fillStyle = v.type === 'accident' ? COLORS.danger : COLORS.warning;
        c.strokeStyle = '#03070d';
        c.lineWidth = 2 * scale;
        c.beginPath();
        c.moveTo(x, y - r); c.lineTo(x + r, y + r * 0.8); c.lineTo(x - r, y + r * 0.8); c.closePath();
        c.fill(); c.stroke();
        c.fillStyle = '#03070d';
        c.font = `bold ${Math.round(10 * scale)}px sans-serif`;
        c.textAlign = 'center';
        c.textBaseline = 'middle';
        c.fillText('!', x, y + r * 0.2);
      }
      c.restore();
    },
    destroy() { feed.close(); },
  };
}

function path(c, pts) {
  c.beginPath();
  pts.forEach(([x, y], i) => (i ? c.lineTo(x, y) : c.moveTo(x, y)));
  c.stroke();
}
