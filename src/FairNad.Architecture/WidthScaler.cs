namespace FairNad.Architecture;

/// <summary>The spec that fills a parameter budget, and how close it came.</summary>
public sealed record ScaledArchitecture(ArchitectureSpec Spec, double Multiplier, long Parameters, long Budget)
{
    /// <summary>Parameters / budget; at most 1.</summary>
    public double Fill => (double)Parameters / Budget;
}

/// <summary>
/// Scales every width (stem and stages) by one multiplier so candidates are compared at equal size (NADER used about
/// 1.5 M parameters on CIFAR): a binary search on the analytic parameter count for the largest multiplier within budget.
/// Widths are rounded to a multiple of <c>divisor</c> (at least one divisor); by default the smallest multiple that keeps the
/// block's grouped, multi-head and split operators valid (<see cref="RequiredDivisor"/>).
/// </summary>
public static class WidthScaler
{
    public static ScaledArchitecture ScaleToBudget(ArchitectureSpec spec, long budget, int? divisor = null, int iterations = 48)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        return ScaleToBudget(spec, budget, divisor ?? RequiredDivisor(spec), iterations);
    }

    /// <summary>
    /// The smallest power of two (up to 64) such that widths that are multiples of it keep the spec valid over a range of
    /// multipliers: grouped convolutions, attention heads, channel splits and shuffles need divisible channel counts.
    /// </summary>
    public static int RequiredDivisor(ArchitectureSpec spec)
    {
        double[] probes = [0.51, 0.77, 1.013, 1.031, 1.047, 1.071, 1.29, 1.53, 2.09, 3.07];
        for (var divisor = 1; divisor <= 64; divisor *= 2)
        {
            if (probes.All(m => ArchitectureAnalyzer.Analyze(Scale(spec, m, divisor)).IsValid))
            {
                return divisor;
            }
        }

        return 64;
    }

    private static ScaledArchitecture ScaleToBudget(ArchitectureSpec spec, long budget, int divisor, int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(divisor, 1);
        ScaledArchitecture? best = null;
        double low = 1.0 / 64, high = 64;
        for (var i = 0; i < iterations; i++)
        {
            var middle = Math.Sqrt(low * high); // widths scale geometrically
            var scaled = Scale(spec, middle, divisor);
            var analysis = ArchitectureAnalyzer.Analyze(scaled);
            if (analysis.IsValid && analysis.Parameters <= budget)
            {
                if (best is null || analysis.Parameters > best.Parameters)
                {
                    best = new ScaledArchitecture(scaled, middle, analysis.Parameters, budget);
                }

                low = middle;
            }
            else
            {
                high = middle;
            }
        }

        if (best is null)
        {
            throw new InvalidOperationException(
                $"{spec.Name}: no width multiplier in [1/64, 64] gives a valid architecture within {budget} parameters");
        }

        return Fill(best, divisor);
    }

    /// <summary>
    /// One multiplier moves in steps of several percent at these sizes, so finish by widening single stages one divisor
    /// at a time (the stem moves with the first stage when that stage has no downsampling step), taking each time the
    /// step that comes closest to the budget without passing it.
    /// </summary>
    private static ScaledArchitecture Fill(ScaledArchitecture start, int divisor)
    {
        var current = start;
        while (true)
        {
            ScaledArchitecture? next = null;
            // Knob -1 is the stem on its own, which only exists when the first stage has a downsampling step.
            for (var s = current.Spec.Stages[0].Downsample == DownsampleKind.None ? 0 : -1; s < current.Spec.Stages.Count; s++)
            {
                var stages = current.Spec.Stages.ToList();
                var stem = current.Spec.Stem;
                if (s < 0)
                {
                    stem = stem with { Channels = stem.Channels + divisor };
                }
                else
                {
                    stages[s] = stages[s] with { Width = stages[s].Width + divisor };
                    stem = s == 0 && stages[0].Downsample == DownsampleKind.None ? stem with { Channels = stages[0].Width } : stem;
                }

                var candidate = current.Spec with { Stages = stages, Stem = stem };
                var analysis = ArchitectureAnalyzer.Analyze(candidate);
                if (analysis.IsValid && analysis.Parameters <= current.Budget && analysis.Parameters > (next?.Parameters ?? current.Parameters))
                {
                    next = current with { Spec = candidate, Parameters = analysis.Parameters };
                }
            }

            if (next is null)
            {
                return current;
            }

            current = next;
        }
    }

    public static ArchitectureSpec Scale(ArchitectureSpec spec, double multiplier, int divisor = 1)
    {
        int Round(int width) => Math.Max(divisor, (int)Math.Round(width * multiplier / divisor, MidpointRounding.AwayFromZero) * divisor);
        return spec with
        {
            Stem = spec.Stem with { Channels = Round(spec.Stem.Channels) },
            Stages = spec.Stages.Select(s => s with { Width = Round(s.Width) }).ToList(),
        };
    }
}
