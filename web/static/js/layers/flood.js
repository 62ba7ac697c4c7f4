// Map layer: reservoirs (water drops), waterlogging points (squares with
// the depth) and rain gauges (circles sized by intensity), coloured by
// state: normal green, warning amber, danger red, grey when stale.
// Data: hub state topic feeds/flood. ctx: {hub, lang, redraw?}.

import { COLORS, copyState } from '../feeds/common.js';

export function layer(ctx) {
  const feed = copyState(ctx.hub, 'feeds/flood', () => { if (ctx.redraw) ctx.redraw(); });
  const state = feed.state;

  return {
    draw(c, project) {
      const s = Math.max(1, c.canvas.width / 1200);
      c.save();
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      const order = { rain: 0, reservoir: 1, waterlogging: 2 };
      const list = [...state.values()].filter((v) => v.kind in order).sort((a, b) => order[a.kind] - order[b.kind] || a.level - b.level);
      for (const v of list) {
        const [x, y] = project(v.lat, v.lng);
        const color = v.stale ? COLORS.stale : COLORS[v.state] || COLORS.nodata;
        c.lineWidth = 2 * s;
        c.strokeStyle = '#03070d';
        if (v.kind === 'rain') {
          const r = (6 + Math.min(v.value || 0, 100) * 0.35) * s;
          c.fillStyle = v.value > 0 ? 'rgba(79,195,255,0.28)' : 'rgba(79,195,255,0.10)';
          c.beginPath(); c.arc(x, y, r, 0, 2 * Math.PI); c.fill();
          c.strokeStyle = color; c.stroke();
        } else if (v.kind === 'reservoir') {
          const r = 11 * s;
          c.fillStyle = color;
          c.beginPath();
          c.moveTo(x, y - r * 1.6);
          c.bezierCurveTo(x + r * 1.1, y - r * 0.3, x + r, y + r, x, y + r);
          c.bezierCurveTo(x - r, y + r, x - r * 1.1, y - r * 0.3, x, y - r * 1.6);
          c.fill(); c.stroke();
          if (v.level > 0 && !v.stale) ring(c, x, y, r * 2, color, s);
        } else {
          const r = 8 * s;
          c.fillStyle = color;
          c.beginPath(); c.rect(x - r, y - r, 2 * r, 2 * r); c.fill(); c.stroke();
          if (v.value > 0) {
            c.font = `bold ${Math.round(12 * s)}px sans-serif`;
            c.fillStyle = '#eaf1fb';
            c.strokeStyle = '#03070d';
            c.lineWidth = 3 * s;
            const label = Math.round(v.value) + 'cm';
            c.strokeText(label, x, y - r * 2);
            c.fillText(label, x, y - r * 2);
          }
          if (v.level > 0 && !v.stale) ring(c, x, y, r * 2, color, s);
        }
      }
      c.restore();
    },
    destroy() { feed.close(); },
  };
}

function ring(c, x, y, r, color, s) {
  c.save();
  c.strokeStyle = color;
  c.globalAlpha = 0.55;
  c.lineWidth = 3 * s;
  c.beginPath(); c.arc(x, y, r, 0, 2 * Math.PI); c.stroke();
  c.restore();
}
