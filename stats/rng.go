package stats

import (
	"math"
	"math/rand/v2"
)

// Stream roles: every independent use of randomness has its own role so that adding a
// quantile or an arm never shifts the random numbers another computation sees.
const (
	roleIID      = 1 // order-statistic sampler, one i.i.d. sample
	roleTwoStage = 2 // two-stage (runs, then requests) bootstrap
	roleRunVar   = 3 // within-run bootstrap variance for Cochran's Q
)

// mix is the splitmix64 finalizer.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// streamKey identifies one family of random streams: (seed, caller stream, role, quantile, sub).
type streamKey struct {
	seed, stream uint64
	role         uint64
	p            float64
	sub          uint64 // run index or other sub-identifier
}

// rng returns the generator for replicate block `block` of key.
func (k streamKey) rng(block int) *rand.Rand {
	h := mix(k.seed)
	h = mix(h ^ k.stream)
	h = mix(h ^ k.role)
	h = mix(h ^ math.Float64bits(k.p))
	h = mix(h ^ k.sub)
	h = mix(h ^ uint64(block))
	return rand.New(rand.NewPCG(h, mix(h^0x5851f42d4c957f2d)))
}

// gammaRand draws Gamma(a, 1) for a >= 1 (Marsaglia & Tsang 2000).
func gammaRand(r *rand.Rand, a float64) float64 {
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 {
			return d * v
		}
		if math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// betaRand draws Beta(a, b) for a, b >= 1.
func betaRand(r *rand.Rand, a, b float64) float64 {
	switch {
	case a == 1 && b == 1:
		return r.Float64()
	case b == 1:
		return math.Pow(openUnit(r), 1/a)
	case a == 1:
		return -math.Expm1(math.Log(openUnit(r)) / b)
	}
	x := gammaRand(r, a)
	y := gammaRand(r, b)
	return x / (x + y)
}

// openUnit returns a uniform draw in (0, 1).
func openUnit(r *rand.Rand) float64 {
	for {
		if u := r.Float64(); u > 0 {
			return u
		}
	}
}

// stirlingTail[k] = log(k!) - [(k+0.5)log(k+1) - (k+1) + 0.5 log(2π)] for small k.
var stirlingTail = func() [10]float64 {
	var t [10]float64
	for k := range t {
		lg, _ := math.Lgamma(float64(k) + 1)
		kk := float64(k)
		t[k] = lg - ((kk+0.5)*math.Log(kk+1) - (kk + 1) + 0.5*math.Log(2*math.Pi))
	}
	return t
}()

func stirlingApproxTail(k float64) float64 {
	if k <= 9 {
		return stirlingTail[int(k)]
	}
	kp1sq := (k + 1) * (k + 1)
	return (1.0/12 - (1.0/360-1.0/1260/kp1sq)/kp1sq) / (k + 1)
}

// binomialRand draws Binomial(n, p) exactly: sequential-search inversion when
// n·min(p, 1-p) < 30, otherwise Hörmann's (1993) transformed rejection with squeeze (BTRS).
func binomialRand(r *rand.Rand, n int64, p float64) int64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - binomialRand(r, n, 1-p)
	}
	if n <= 16 {
		// Note: counting Bernoulli trials beats the exp/log1p set-up of inversion for the
		// small counts that dominate the two-stage bridge's lower levels.
		var x int64
		for i := int64(0); i < n; i++ {
			if r.Float64() < p {
				x++
			}
		}
		return x
	}
	if float64(n)*p < 30 {
		// Sequential-search inversion (BINV, Kachitvichyanukul & Schmeiser 1988):
		// one uniform, P(0) = q^n, then P(x) = P(x-1)·((n+1)s/x − s), s = p/q.
		q := 1 - p
		sr := p / q
		a := float64(n+1) * sr
		pr := math.Exp(float64(n) * math.Log1p(-p))
		u := r.Float64()
		var x int64
		for u > pr {
			u -= pr
			x++
			if x >= n {
				return n
			}
			pr *= a/float64(x) - sr
		}
		return x
	}
	count := float64(n)
	stddev := math.Sqrt(count * p * (1 - p))
	b := 1.15 + 2.53*stddev
	a := -0.0873 + 0.0248*b + 0.01*p
	c := count*p + 0.5
	vr := 0.92 - 4.2/b
	rr := p / (1 - p)
	alpha := (2.83 + 5.1/b) * stddev
	m := math.Floor((count + 1) * p)
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + c)
		if k < 0 || k > count {
			continue
		}
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		if us <= 0 || v <= 0 {
			continue
		}
		v = math.Log(v * alpha / (a/(us*us) + b))
		ub := (m+0.5)*math.Log((m+1)/(rr*(count-m+1))) +
			(count+1)*math.Log((count-m+1)/(count-k+1)) +
			(k+0.5)*math.Log(rr*(count-k+1)/(k+1)) +
			stirlingApproxTail(m) + stirlingApproxTail(count-m) -
			stirlingApproxTail(k) - stirlingApproxTail(count-k)
		if v <= ub {
			return int64(k)
		}
	}
}
