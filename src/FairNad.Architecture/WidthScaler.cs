namespace FairNad.Architecture;

/// <summary>The spec that fills a parameter budget, and how close it came.</summary>
public sealed record ScaledArchitecture(ArchitectureSpec Spec, double Multiplier, long Parameters, long Budget)
{
    /// <summary>Parameters / budget; at most 1.</summary>
    public double Fill => (double)Parameters / Budget;
}

/// <summary>A spec cannot be scaled to the budget; the message says why. An <see cref="InvalidOperationException"/>, as before.</summary>
public sealed class WidthScalingException(string message) : InvalidOperationException(message);

/// <summary>
/// Scales every width (stem and stages) by one multiplier so candidates are compared at equal size (NADER used about
/// 1.5 M parameters on CIFAR): a binary search on the analytic parameter count for the largest multiplier within budget.
/// Widths are rounded to a multiple of <c>divisor</c> (at least one divisor); by default the smallest multiple that keeps the
/// block's grouped, multi-head and split operators valid (<see cref="RequiredDivisor"/>). Widths never leave
/// [divisor, <see cref="ArchitectureLimits.MaxWidth"/>], so no multiplier can produce an overflowed or absurd width.
/// </summary>
public static class WidthScaler
{
    /// <summary>The largest divisor accepted.</summary>
    public const int MaxDivisor = 1_024;

    /// <param name="costs">The costs of LLM-written operators at the widths tried (an estimate serves: see
    /// <see cref="OperatorCostTable.Estimates"/>); without it a <c>custom</c> node counts 0.</param>
    /// <exception cref="WidthScalingException">the spec is beyond the analyzer's limits, or no multiplier gives a valid spec within the budget.</exception>
    public static ScaledArchitecture ScaleToBudget(ArchitectureSpec spec, long budget, int? divisor = null, int iterations = 48, IOperatorCosts? costs = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        CheckDivisor(divisor ?? 1);
        var absurd = ArchitectureAnalyzer.Analyze(spec).Errors.Where(e => e.Rule is "too-large" or "overflow").ToList();
        if (absurd.Count > 0)
        {
            throw new WidthScalingException($"{Label(spec)} cannot be scaled: {string.Join("; ", absurd)}");
        }

        return ScaleToBudget(spec, budget, divisor ?? RequiredDivisor(spec), iterations, costs);
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

    private static ScaledArchitecture ScaleToBudget(ArchitectureSpec spec, long budget, int divisor, int iterations, IOperatorCosts? costs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(divisor, 1);
        ScaledArchitecture? best = null;
        double low = 1.0 / 64, high = 64;
        for (var i = 0; i < iterations; i++)
        {
            var middle = Math.Sqrt(low * high); // widths scale geometrically
            var scaled = Scale(spec, middle, divisor);
            var analysis = ArchitectureAnalyzer.Analyze(scaled, costs);
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
            throw new WidthScalingException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{Label(spec)}: no width multiplier in [1/64, 64] gives a valid architecture within {budget:N0} parameters"));
        }

        return Fill(best, divisor, costs);
    }

    /// <summary>
    /// One multiplier moves in steps of several percent at these sizes, so finish by widening single stages one divisor
    /// at a time (the stem moves with the first stage when that stage has no downsampling step), taking each time the
    /// step that comes closest to the budget without passing it.
    /// </summary>
    private static ScaledArchitecture Fill(ScaledArchitecture start, int divisor, IOperatorCosts? costs)
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
                var analysis = ArchitectureAnalyzer.Analyze(candidate, costs);
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

    /// <summary>
    /// Every width times <paramref name="multiplier"/>, rounded to a multiple of <paramref name="divisor"/> and kept within
    /// [divisor, the largest multiple of divisor up to <see cref="ArchitectureLimits.MaxWidth"/>].
    /// </summary>
    public static ArchitectureSpec Scale(ArchitectureSpec spec, double multiplier, int divisor = 1)
    {
        CheckDivisor(divisor);
        if (!double.IsFinite(multiplier) || multiplier <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "the width multiplier must be a positive finite number");
        }

        // In multiples of the divisor, in double arithmetic so that no product can wrap around.
        var most = ArchitectureLimits.MaxWidth / divisor;
        int Round(int width) => (int)Math.Clamp(Math.Round(width * multiplier / divisor, MidpointRounding.AwayFromZero), 1, most) * divisor;
        return spec with
        {
            Stem = spec.Stem with { Channels = Round(spec.Stem.Channels) },
            Stages = spec.Stages.Select(s => s with { Width = Round(s.Width) }).ToList(),
        };
    }

    private static void CheckDivisor(int divisor)
    {
        if (divisor is < 1 or > MaxDivisor)
        {
            throw new ArgumentOutOfRangeException(nameof(divisor), divisor, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the width divisor must lie in [1, {MaxDivisor:N0}]"));
        }
    }

    private static string Label(ArchitectureSpec spec) => spec.Name is { Length: > 0 } name ? name : "the architecture";
}
