using FairNad.Experiments;
using ScottPlot;

namespace FairNad.Reports;

/// <summary>The report's PNG plots (ScottPlot), drawn with the font shipped beside the assembly so text renders everywhere.</summary>
public static class RunPlots
{
    public const int Width = 800;
    public const int Height = 560;
    private const string FontName = "DejaVu Sans";
    private static readonly Lock Gate = new();
    private static bool _fontLoaded;

    /// <summary>Registers the shipped DejaVu Sans (SkiaSharp's self-contained native library sees no system fonts).</summary>
    public static void EnsureFont()
    {
        lock (Gate)
        {
            if (_fontLoaded)
            {
                return;
            }

            var path = Path.Combine(AppContext.BaseDirectory, "fonts", "DejaVuSans.ttf");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"the plot font is missing: {path} (it ships with FairNad.Reports)", path);
            }

            Fonts.AddFontFile(FontName, path);
            Fonts.Default = FontName;
            _fontLoaded = true;
        }
    }

    /// <summary>Mean best-so-far test accuracy against queries, one line per strategy, one PNG per dataset (anytime-&lt;dataset&gt;.png).</summary>
    public static IReadOnlyList<string> Anytime(FairNad.Search.Nb201BenchmarkResult result, string directory)
    {
        var files = new List<string>();
        foreach (var dataset in result.Settings.Datasets)
        {
            var plot = NewPlot($"NAS-Bench-201 {dataset}: mean best-so-far {(result.Settings.StandardColumns ? "test accuracy" : result.Settings.ReportColumn)} ({result.Settings.Seeds} seeds)", "queries (unique architectures)", result.Settings.StandardColumns ? "test accuracy (%)" : result.Settings.ReportColumn);
            var optimum = result.Rows.First(r => r.Dataset == dataset).Optimum;
            foreach (var strategy in result.Settings.Strategies)
            {
                var curve = result.Anytime[(dataset, strategy)];
                var start = Math.Min(curve.Count - 1, 9);
                var line = plot.Add.Scatter(Enumerable.Range(start + 1, curve.Count - start).Select(q => (double)q).ToArray(), curve.Skip(start).ToArray());
                line.LegendText = strategy;
                line.MarkerSize = 0;
                line.LineWidth = 2;
            }

            var best = plot.Add.HorizontalLine(optimum);
            best.LegendText = $"optimum {optimum:F2}";
            best.LinePattern = LinePattern.Dashed;
            plot.ShowLegend(Alignment.LowerRight);
            var path = Path.Combine(directory, $"anytime-{dataset}.png");
            plot.SavePng(path, Width, Height);
            files.Add(path);
        }

        return files;
    }

    internal static Plot NewPlot(string title, string x, string y)
    {
        EnsureFont();
        var plot = new Plot();
        plot.Font.Set(FontName);
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    public static IReadOnlyList<string> Write(string directory, string run, Experiment experiment, IReadOnlyList<CandidateRecord> entries, IReadOnlyList<CandidateRecord> front,
        IReadOnlyList<AttributeRow> attributes)
    {
        var ok = entries.Where(e => e.Ok).ToList();
        var files = new List<string>();
        string Save(Plot plot, string name)
        {
            var path = Path.Combine(directory, name);
            plot.SavePng(path, Width, Height);
            files.Add(path);
            return path;
        }

        // Accuracy against parameters, with the front.
        var scatter = NewPlot($"{run}: validation accuracy vs parameters", "parameters", "validation accuracy (%)");
        foreach (var group in ok.GroupBy(e => e.MutationType).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var points = scatter.Add.ScatterPoints(group.Select(e => (double)(e.Parameters ?? 0)).ToArray(), group.Select(e => e.Validation!.Value).ToArray());
            points.LegendText = group.Key;
            points.MarkerSize = 8;
        }

        if (front.Count > 0)
        {
            var line = scatter.Add.Scatter(front.Select(e => (double)(e.Parameters ?? 0)).ToArray(), front.Select(e => e.Validation!.Value).ToArray());
            line.LegendText = "Pareto front";
            line.LineWidth = 2;
            line.MarkerSize = 0;
        }

        scatter.ShowLegend(Alignment.LowerRight);
        Save(scatter, "accuracy-vs-parameters.png");

        // Best so far against candidates evaluated.
        var best = NewPlot($"{run}: best validation accuracy so far", "candidates evaluated", "best validation accuracy (%)");
        var so = double.NaN;
        var xs = new List<double>();
        var ys = new List<double>();
        foreach (var e in entries.OrderBy(e => e.Index))
        {
            if (e.Ok && (double.IsNaN(so) || e.Validation > so))
            {
                so = e.Validation!.Value;
            }

            if (!double.IsNaN(so))
            {
                xs.Add(e.Index + 1);
                ys.Add(so);
            }
        }

        if (xs.Count > 0)
        {
            var curve = best.Add.Scatter(xs.ToArray(), ys.ToArray());
            curve.ConnectStyle = ConnectStyle.StepHorizontal;
            curve.LineWidth = 2;
            curve.MarkerSize = 0;
        }

        var all = best.Add.ScatterPoints(ok.Select(e => e.Index + 1.0).ToArray(), ok.Select(e => e.Validation!.Value).ToArray());
        all.MarkerSize = 5;
        all.LegendText = "candidates";
        Save(best, "best-so-far.png");

        // Attribute usage and success.
        var bars = NewPlot($"{run}: attributes tried and how often they improved on the parent", string.Empty, "candidates");
        var ticks = new List<Tick>();
        for (var i = 0; i < attributes.Count; i++)
        {
            var a = attributes[i];
            bars.Add.Bar(new Bar { Position = i, Value = a.Candidates, FillColor = Colors.SteelBlue.WithAlpha(0.5), Size = 0.8 });
            bars.Add.Bar(new Bar { Position = i, Value = a.Improved, FillColor = Colors.SeaGreen, Size = 0.5 });
            ticks.Add(new Tick(i, a.Attribute.Split('.').Last()));
        }

        bars.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        bars.Axes.Bottom.TickLabelStyle.Rotation = 45;
        bars.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        bars.Axes.Bottom.MinimumSize = 150;
        bars.Axes.Margins(bottom: 0);
        Save(bars, "attributes.png");

        // Lineage of the best candidate: its ancestors by index and accuracy, arrows from parent to child.
        var lineage = NewPlot($"{run}: lineage of the best candidate", "candidate index", "validation accuracy (%)");
        var byId = entries.ToDictionary(e => e.Candidate, StringComparer.Ordinal);
        if (RunArchive.BestOf(ok) is { } top)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var stack = new Stack<CandidateRecord>([top]);
            while (stack.TryPop(out var child))
            {
                if (!seen.Add(child.Candidate))
                {
                    continue;
                }

                var label = lineage.Add.Text(child.Attribute?.Split('.').Last() ?? child.MutationType, child.Index, child.Validation ?? 0);
                label.LabelFontSize = 11;
                label.LabelFontName = FontName;
                var point = lineage.Add.ScatterPoints(new double[] { child.Index }, new double[] { child.Validation ?? 0 });
                point.MarkerSize = 9;
                foreach (var parent in child.Parents.Where(byId.ContainsKey).Select(p => byId[p]))
                {
                    lineage.Add.Arrow(new Coordinates(parent.Index, parent.Validation ?? 0), new Coordinates(child.Index, child.Validation ?? 0));
                    stack.Push(parent);
                }
            }
        }

        lineage.Axes.Margins(horizontal: 0.15, vertical: 0.1);
        Save(lineage, "lineage.png");
        return files;
    }
}
