using System.Globalization;
using System.Text.Json;
using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("Strategies the Compare target runs, each with every seed of the experiment (or --seed).")]
    readonly string[] CompareStrategies = ["fairnad", "rea", "random"];

    /// <summary>
    /// The open-space comparison: every strategy with every seed of the experiment (default experiments/fashion-mnist-compare.json),
    /// each run started, or resumed when its folder already holds it (so the target continues across sessions), then the
    /// comparison report of all of them. Run names are the search's own (&lt;name&gt;[-&lt;profile&gt;]-&lt;strategy&gt;-s&lt;seed&gt;).
    /// </summary>
    Target Compare => _ => _
        .Description("Runs (or resumes) every strategy of --compare-strategies (default fairnad, rea, random) with every seed of the experiment (default experiments/fashion-mnist-compare.json; --profile ci for a smoke run), then writes the comparison report into results/<name>[-<profile>]-comparison.")
        .DependsOn(Restore)
        .Executes(() =>
        {
            var experiment = Experiment ?? RootDirectory / "experiments" / "fashion-mnist-compare.json";
            using var document = JsonDocument.Parse(File.ReadAllText(experiment), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = document.RootElement;
            var name = root.GetProperty("name").GetString()!;
            var seedsOf = ExperimentProfile is { } profile && root.TryGetProperty("profiles", out var profiles) && profiles.TryGetProperty(profile, out var preset) && preset.TryGetProperty("seeds", out var presetSeeds)
                ? presetSeeds
                : root.GetProperty("seeds");
            int[] seeds = Seed is { } one ? [one] : [.. seedsOf.EnumerateArray().Select(s => s.GetInt32())];
            var results = RootDirectory / "results";
            var prefix = ExperimentProfile is null ? name : $"{name}-{ExperimentProfile}";
            var runs = new List<string>();
            string[] Shared() => [.. DataDirectory is null ? [] : new[] { "--data-dir", (string)DataDirectory }, .. Jobs is null ? [] : new[] { "--jobs", Jobs.Value.ToString(CultureInfo.InvariantCulture) }];
            foreach (var strategy in CompareStrategies)
            {
                foreach (var seed in seeds)
                {
                    var run = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{strategy}-s{seed}");
                    runs.Add(run);
                    if (File.Exists(results / run / "manifest.json"))
                    {
                        Fairnad(["search", "--results", results, "--repo", RootDirectory, "--resume", run, .. Shared()]);
                    }
                    else
                    {
                        Fairnad(["search", "--results", results, "--repo", RootDirectory, "--experiment", experiment, "--strategy", strategy, "--seed", seed.ToString(CultureInfo.InvariantCulture),
                            .. ExperimentProfile is null ? [] : new[] { "--profile", ExperimentProfile }, .. Shared()]);
                    }
                }
            }

            Fairnad(["report", "--runs", .. runs, "--results", results, "--out", results / $"{prefix}-comparison"]);
        });
}
