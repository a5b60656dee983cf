using System.Xml.Linq;

namespace FairNad.Build.Engine.Tooling;

/// <summary>The dotnet CLI calls the build makes (the subset of Nuke's DotNetTasks this project uses).</summary>
public static class DotNetTasks
{
    public static void Restore(AbsolutePath solution, IReadOnlyDictionary<string, string> properties) =>
        ProcessTasks.Run("dotnet", ["restore", solution, "-nologo", .. MsBuildProperties(properties)]);

    public static void Build(AbsolutePath solution, string configuration, IReadOnlyDictionary<string, string> properties) =>
        ProcessTasks.Run("dotnet", ["build", solution, "-nologo", "--no-restore", "-c", configuration, .. MsBuildProperties(properties)]);

    /// <summary>
    /// Runs every test project of <paramref name="solution"/> (already built), writes one TRX file per project under
    /// <paramref name="resultsDirectory"/>, prints a per-project table and passes <c>N passed, N failed, N skipped</c> to
    /// <paramref name="reportTotal"/> (even when tests fail) before failing on a failed or missing test.
    /// </summary>
    public static void Test(
        AbsolutePath solution,
        string configuration,
        AbsolutePath resultsDirectory,
        string? filter,
        IReadOnlyDictionary<string, string> properties,
        Action<string> reportTotal)
    {
        if (Directory.Exists(resultsDirectory))
        {
            Directory.Delete(resultsDirectory, recursive: true);
        }

        Directory.CreateDirectory(resultsDirectory);
        List<string> arguments =
        [
            "test", solution, "-nologo", "--no-build", "--no-restore", "-c", configuration,
            "--results-directory", resultsDirectory, "--logger", "trx", "--logger", "console;verbosity=normal",
            .. MsBuildProperties(properties),
        ];
        if (!string.IsNullOrWhiteSpace(filter))
        {
            arguments.AddRange(["--filter", filter]);
        }

        ToolException? failure = null;
        try
        {
            ProcessTasks.Run("dotnet", arguments);
        }
        catch (ToolException e)
        {
            failure = e;
        }

        var results = Directory.GetFiles(resultsDirectory, "*.trx", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(TestResultSummary.FromTrx).ToList();
        var total = TestResultSummary.Sum(results);
        Console.WriteLine();
        foreach (var result in results.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            Console.WriteLine($"  {result.Name,-40} {result.Passed,5} passed {result.Failed,5} failed {result.Skipped,5} skipped");
        }

        Console.WriteLine($"TRX results: {resultsDirectory}");
        Console.WriteLine(total.ToSummaryLine());
        reportTotal(total.ToSummaryLine());
        if (failure is not null || total.Failed > 0)
        {
            throw new ToolException($"{total.Failed} test(s) failed" + (failure is null ? string.Empty : $"; {failure.Message}"));
        }

        if (total.Passed == 0)
        {
            throw new ToolException("no test ran");
        }
    }

    private static IEnumerable<string> MsBuildProperties(IReadOnlyDictionary<string, string> properties) =>
        properties.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"-p:{p.Key}={p.Value}");
}

/// <summary>The outcome counts of one TRX (Visual Studio test results) file.</summary>
public sealed record TestResultSummary(string Name, int Passed, int Failed, int Skipped)
{
    private static readonly XNamespace Trx = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    public static TestResultSummary FromTrx(string path)
    {
        var document = XDocument.Load(path);
        var outcomes = document.Descendants(Trx + "UnitTestResult").Select(r => (string?)r.Attribute("outcome") ?? "NotExecuted").ToList();
        var storage = document.Descendants(Trx + "UnitTest").Select(t => (string?)t.Attribute("storage")).FirstOrDefault();
        var name = storage is null ? Path.GetFileNameWithoutExtension(path) : Path.GetFileNameWithoutExtension(storage);
        return new TestResultSummary(
            name,
            outcomes.Count(o => o == "Passed"),
            outcomes.Count(o => o is "Failed" or "Error" or "Timeout" or "Aborted"),
            outcomes.Count(o => o is "NotExecuted" or "Inconclusive" or "NotRunnable"));
    }

    public static TestResultSummary Sum(IEnumerable<TestResultSummary> results) =>
        results.Aggregate(new TestResultSummary("total", 0, 0, 0), (a, b) => a with
        {
            Passed = a.Passed + b.Passed,
            Failed = a.Failed + b.Failed,
            Skipped = a.Skipped + b.Skipped,
        });

    /// <summary>The plain closing line CI reads: <c>N passed, N failed, N skipped</c>.</summary>
    public string ToSummaryLine() => $"{Passed} passed, {Failed} failed, {Skipped} skipped";
}
