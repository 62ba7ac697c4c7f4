// Package feedsim is the demo city's sensors and call centre: Haikou's
// reservoirs, waterlogging points, rain gauges and main roads, traffic
// incidents, and call-centre events at ≈2,700 a day with a 98.5 % answer
// rate. Once a simulated day (and on demand) a rainstorm passes: rain
// rises, underpasses flood past their thresholds, reservoirs climb over
// their warning levels, main roads jam, and a burst of burst-pipe and
// waterlogging tickets reaches the hotline through the ticket emitter.
package feedsim

import (
	"time"

	"github.com/citywall/citywall/feeds"
)

// Stations returns the demo city's stations. Positions are WGS84 and
// approximate; the camera ids are those of demo/city.Cameras.
func Stations() []feeds.Station {
	res := func(id, zh, en string, lat, lng, warn, limit float64, cams ...string) feeds.Station {
		return feeds.Station{ID: id, Kind: feeds.Reservoir, Name: zh, NameEn: en, Lat: lat, Lng: lng,
			Interval: 5 * time.Minute, Warn: warn, Limit: limit, Cameras: cams}
	}
	wl := func(id, zh, en, district string, lat, lng float64, cams ...string) feeds.Station {
		return feeds.Station{ID: id, Kind: feeds.Waterlogging, Name: zh, NameEn: en, District: district, Lat: lat, Lng: lng,
			Interval: time.Minute, Warn: 15, Limit: 30, Cameras: cams}
	}
	rain := func(id, zh, en, district string, lat, lng float64) feeds.Station {
		return feeds.Station{ID: id, Kind: feeds.Rain, Name: zh, NameEn: en, District: district, Lat: lat, Lng: lng,
			Interval: time.Minute, Warn: 30, Limit: 50}
	}
	road := func(id, zh, en, district string, free float64, key bool, line [][2]float64, cams ...string) feeds.Station {
		return feeds.Station{ID: id, Kind: feeds.Road, Name: zh, NameEn: en, District: district, Interval: time.Minute,
			FreeFlow: free, Key: key, Polyline: line, Cameras: cams}
	}
	return []feeds.Station{
		res("res-yongzhuang", "永庄水库", "Yongzhuang Reservoir", 19.9850, 110.3020, 18.5, 19.0, "reservoir-yongzhuang"),
		res("res-shahe", "沙河水库", "Shahe Reservoir", 19.9400, 110.3900, 12.0, 12.5, "reservoir-shahe"),
		res("res-lingbei", "岭北水库", "Lingbei Reservoir", 19.9600, 110.2800, 25.0, 25.6, "reservoir-lingbei"),

		wl("wl-nanhai-underpass", "南海大道下穿隧道", "Nanhai Ave underpass", "龙华区", 20.0180, 110.3080, "underpass-nanhai"),
		wl("wl-haifu-underpass", "海府路下穿通道", "Haifu Rd underpass", "美兰区", 20.0240, 110.3460, "underpass-haifu"),
		wl("wl-longkun-nanda", "龙昆南路南大立交桥下", "Longkun S Rd at Nanda interchange", "龙华区", 20.0050, 110.3330, "road-longkun"),
		wl("wl-binhai-xiuying", "滨海大道秀英段", "Binhai Ave, Xiuying section", "秀英区", 20.0250, 110.2700, "wl-binhai-xiuying"),
		wl("wl-guoxing-dayingshan", "国兴大道大英山段", "Guoxing Ave at Dayingshan", "美兰区", 20.0215, 110.3600, "wl-dayingshan"),
		wl("wl-jinpan", "金盘路工业区", "Jinpan Rd industrial park", "龙华区", 20.0150, 110.3000, "wl-jinpan"),

		rain("rain-xiuying", "秀英区雨量站", "Xiuying rain gauge", "秀英区", 20.0000, 110.2900),
		rain("rain-longhua", "龙华区雨量站", "Longhua rain gauge", "龙华区", 20.0250, 110.3200),
		rain("rain-qiongshan", "琼山区雨量站", "Qiongshan rain gauge", "琼山区", 19.9950, 110.3550),
		rain("rain-meilan", "美兰区雨量站", "Meilan rain gauge", "美兰区", 20.0300, 110.3800),

		road("road-binhai-e", "滨海大道(世纪大桥—龙昆北路)", "Binhai Ave (Century Bridge–Longkun N)", "龙华区", 60, true,
			[][2]float64{{20.0470, 110.3300}, {20.0455, 110.3180}, {20.0360, 110.3050}}, "road-binhai"),
		road("road-binhai-w", "滨海大道(龙昆北路—秀英港)", "Binhai Ave (Longkun N–Xiuying Port)", "秀英区", 60, true,
			[][2]float64{{20.0360, 110.3050}, {20.0290, 110.2900}, {20.0270, 110.2750}, {20.0230, 110.2600}}),
		road("road-longkun-n", "龙昆北路", "Longkun N Rd", "龙华区", 50, true,
			[][2]float64{{20.0440, 110.3270}, {20.0330, 110.3285}, {20.0230, 110.3300}}),
		road("road-longkun-s", "龙昆南路", "Longkun S Rd", "龙华区", 50, true,
			[][2]float64{{20.0230, 110.3300}, {20.0120, 110.3320}, {20.0000, 110.3340}, {19.9900, 110.3350}}, "road-longkun"),
		road("road-haixiu-w", "海秀快速路(西段)", "Haixiu Expressway (west)", "秀英区", 80, true,
			[][2]float64{{20.0050, 110.2600}, {20.0070, 110.2800}, {20.0085, 110.3000}, {20.0095, 110.3200}}, "road-haixiu"),
		road("road-haixiu-e", "海秀快速路(东段)", "Haixiu Expressway (east)", "龙华区", 80, true,
			[][2]float64{{20.0095, 110.3200}, {20.0100, 110.3450}, {20.0080, 110.3650}}),
		road("road-guoxing", "国兴大道", "Guoxing Ave", "美兰区", 60, true,
			[][2]float64{{20.0230, 110.3450}, {20.0215, 110.3600}, {20.0200, 110.3750}, {20.0190, 110.3900}}, "road-guoxing"),
		road("road-nanhai", "南海大道", "Nanhai Ave", "龙华区", 60, true,
			[][2]float64{{20.0260, 110.2550}, {20.0230, 110.2800}, {20.0200, 110.3000}, {20.0190, 110.3150}, {20.0185, 110.3280}}, "underpass-nanhai", "road-nanhai"),
		road("road-haifu", "海府路", "Haifu Rd", "美兰区", 50, true,
			[][2]float64{{20.0420, 110.3470}, {20.0330, 110.3480}, {20.0240, 110.3460}, {20.0150, 110.3500}}, "underpass-haifu"),
		road("road-century-bridge", "世纪大桥", "Century Bridge", "美兰区", 60, false,
			[][2]float64{{20.0470, 110.3300}, {20.0520, 110.3330}, {20.0560, 110.3350}}, "road-century-bridge"),
		road("road-yehai", "椰海大道", "Yehai Ave", "琼山区", 70, false,
			[][2]float64{{19.9850, 110.2900}, {19.9830, 110.3200}, {19.9820, 110.3500}, {19.9850, 110.3800}}, "road-yehai"),
	}
}
