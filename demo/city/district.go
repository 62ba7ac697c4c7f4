package city

import (
	"fmt"
	"math"
	"strings"

	"github.com/citywall/citywall/geo"
)

// District is one of Haikou's districts.
type District struct {
	ID      string       // administrative division code
	Name    string       // zh-CN, as Ticket.District carries it, e.g. "龙华区"
	NameEn  string       // e.g. "Longhua"
	Polygon [][2]float64 // lat, lng (WGS84); the ring closes implicitly
	Weight  float64      // share of the background (non-hotspot) requests
	Grids   []Grid
}

// Grid is a management grid: the patch one grid worker patrols. A point
// belongs to the grid of its district whose centre is nearest, so grids are
// small in the dense centre and large among the villages.
type Grid struct {
	ID       string     // e.g. "龙华-金贸-012"
	Street   string     // subdistrict or town, e.g. "金贸街道"
	StreetEn string     // e.g. "Jinmao Subdistrict"
	Center   [2]float64 // lat, lng (WGS84)
	weight   float64    // relative request density
	reachM   float64    // how far from the centre the grid's patch extends
}

// street seeds the grids of one subdistrict (urban) or town (rural).
type street struct {
	name, nameEn string
	town         bool
	lat, lng     float64
	radiusKm     float64
	grids        int
}

type districtSeed struct {
	id, name, nameEn string
	weight           float64
	streets          []street
}

func districtSeeds() []districtSeed {
	return []districtSeed{
		{
			id: "460105", name: "秀英区", nameEn: "Xiuying", weight: 0.17,
			streets: []street{
				{"秀英街道", "Xiuying Subdistrict", false, 20.015, 110.268, 1.4, 18},
				{"海秀街道", "Haixiu Subdistrict", false, 20.029, 110.251, 1.4, 18},
				{"西秀镇", "Xixiu Town", true, 20.020, 110.215, 2.5, 10},
				{"长流镇", "Changliu Town", true, 19.990, 110.170, 3.5, 12},
				{"石山镇", "Shishan Town", true, 19.930, 110.210, 4.0, 8},
				{"永兴镇", "Yongxing Town", true, 19.860, 110.240, 4.0, 8},
				{"东山镇", "Dongshan Town", true, 19.793, 110.208, 4.0, 6},
			},
		},
		{
			id: "460106", name: "龙华区", nameEn: "Longhua", weight: 0.33,
			streets: []street{
				{"金贸街道", "Jinmao Subdistrict", false, 20.025, 110.315, 1.3, 24},
				{"滨海街道", "Binhai Subdistrict", false, 20.033, 110.311, 1.2, 20},
				{"中山街道", "Zhongshan Subdistrict", false, 20.040, 110.326, 0.7, 14},
				{"大同街道", "Datong Subdistrict", false, 20.028, 110.329, 0.6, 14},
				{"海垦街道", "Haiken Subdistrict", false, 20.008, 110.325, 1.1, 18},
				{"金宇街道", "Jinyu Subdistrict", false, 20.005, 110.300, 1.5, 20},
				{"城西镇", "Chengxi Town", true, 19.980, 110.318, 2.0, 16},
				{"龙桥镇", "Longqiao Town", true, 19.919, 110.311, 4.0, 8},
				{"龙泉镇", "Longquan Town", true, 19.850, 110.320, 4.0, 8},
				{"遵谭镇", "Zuntan Town", true, 19.780, 110.290, 4.0, 6},
				{"新坡镇", "Xinpo Town", true, 19.740, 110.338, 3.5, 6},
			},
		},
		{
			id: "460107", name: "琼山区", nameEn: "Qiongshan", weight: 0.21,
			streets: []street{
				{"府城街道", "Fucheng Subdistrict", false, 19.998, 110.350, 0.9, 18},
				{"国兴街道", "Guoxing Subdistrict", false, 20.004, 110.364, 0.7, 16},
				{"滨江街道", "Binjiang Subdistrict", false, 19.990, 110.378, 1.0, 14},
				{"凤翔街道", "Fengxiang Subdistrict", false, 19.975, 110.352, 1.3, 14},
				{"龙塘镇", "Longtang Town", true, 19.930, 110.400, 4.0, 8},
				{"云龙镇", "Yunlong Town", true, 19.820, 110.450, 5.0, 8},
				{"红旗镇", "Hongqi Town", true, 19.800, 110.550, 5.0, 8},
				{"旧州镇", "Jiuzhou Town", true, 19.720, 110.420, 5.0, 6},
				{"甲子镇", "Jiazi Town", true, 19.720, 110.510, 5.0, 6},
				{"三门坡镇", "Sanmenpo Town", true, 19.650, 110.520, 5.0, 6},
				{"大坡镇", "Dapo Town", true, 19.640, 110.440, 5.0, 6},
			},
		},
		{
			id: "460108", name: "美兰区", nameEn: "Meilan", weight: 0.29,
			streets: []street{
				{"人民路街道", "Renminlu Subdistrict", false, 20.056, 110.336, 1.1, 22},
				{"白沙街道", "Baisha Subdistrict", false, 20.068, 110.353, 1.0, 18},
				{"新埠街道", "Xinbu Subdistrict", false, 20.066, 110.376, 0.9, 10},
				{"博爱街道", "Bo'ai Subdistrict", false, 20.036, 110.347, 0.6, 12},
				{"海府街道", "Haifu Subdistrict", false, 20.022, 110.352, 0.8, 16},
				{"和平南街道", "Hepingnan Subdistrict", false, 20.030, 110.362, 0.7, 12},
				{"白龙街道", "Bailong Subdistrict", false, 20.042, 110.362, 0.8, 14},
				{"蓝天街道", "Lantian Subdistrict", false, 20.020, 110.370, 0.8, 14},
				{"灵山镇", "Lingshan Town", true, 19.990, 110.460, 6.0, 10},
				{"演丰镇", "Yanfeng Town", true, 20.006, 110.537, 6.0, 8},
				{"三江镇", "Sanjiang Town", true, 19.960, 110.580, 5.0, 6},
				{"大致坡镇", "Dazhipo Town", true, 19.920, 110.560, 4.0, 6},
			},
		},
	}
}

// Districts returns Haikou's four districts with their outlines (from
// haikou/districts.geojson) and grids.
// The result is a fresh copy the caller may keep or change.
func Districts() []District {
	seeds := districtSeeds()
	out := make([]District, 0, len(seeds))
	for _, sd := range seeds {
		d := District{
			ID:      sd.id,
			Name:    sd.name,
			NameEn:  sd.nameEn,
			Polygon: append([][2]float64(nil), outlines[sd.id]...),
			Weight:  sd.weight,
		}
		short := strings.TrimSuffix(sd.name, "区")
		for _, st := range sd.streets {
			d.Grids = append(d.Grids, streetGrids(short, st, d.Polygon)...)
		}
		out = append(out, d)
	}
	return out
}

// goldenAngle (π(3−√5)) spreads grid centres evenly over a street's disc (a
// Vogel spiral), which needs no randomness and so never changes between builds.
const goldenAngle = 2.399963229728653

func streetGrids(district string, st street, poly [][2]float64) []Grid {
	short := st.name
	for _, suffix := range []string{"街道", "镇"} {
		short = strings.TrimSuffix(short, suffix)
	}
	weight := 1.0
	if st.town {
		weight = 0.25
	}
	// A patch reaches a little past half-way to its neighbours, so the
	// outermost grids of a street do not swallow the land beyond it.
	spacing := st.radiusKm * 1000 * math.Sqrt(math.Pi/float64(st.grids))
	reach := 1.5 * spacing
	var out []Grid
	for i := range st.grids {
		r := st.radiusKm * 1000 * math.Sqrt((float64(i)+0.5)/float64(st.grids))
		a := float64(i) * goldenAngle
		lat, lng := offset(st.lat, st.lng, r*math.Cos(a), r*math.Sin(a))
		if !geo.InPolygon(poly, lat, lng) || !OnLand(lat, lng) {
			continue
		}
		out = append(out, Grid{
			ID:       fmt.Sprintf("%s-%s-%03d", district, short, len(out)+1),
			Street:   st.name,
			StreetEn: st.nameEn,
			Center:   [2]float64{lat, lng},
			weight:   weight,
			reachM:   reach,
		})
	}
	return out
}

const (
	metresPerDegLat = 110_574.0
	metresPerDegLng = 111_320.0 // at the equator; scaled by cos(lat)
)

// offset moves a point by north/east metres (equirectangular, fine over a
// few kilometres).
func offset(lat, lng, north, east float64) (float64, float64) {
	return lat + north/metresPerDegLat, lng + east/(metresPerDegLng*math.Cos(lat*math.Pi/180))
}

// distance is the equirectangular distance in metres.
func distance(lat1, lng1, lat2, lng2 float64) float64 {
	dy := (lat2 - lat1) * metresPerDegLat
	dx := (lng2 - lng1) * metresPerDegLng * math.Cos((lat1+lat2)/2*math.Pi/180)
	return math.Hypot(dx, dy)
}
