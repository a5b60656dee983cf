using System.Text.RegularExpressions;
using FairNad.Architecture;
using FairNad.Lineage;

namespace FairNad.Cli.Tests;

using static Cli;

/// <summary>
/// A folder of wrong inputs shared by every case: a directory, a missing file, a file of garbage, a spec far beyond the
/// analyzer's limits, an empty lineage repository, a results folder with a run whose experiment copy is garbage, and a
/// data directory whose Fashion-MNIST image file is a directory.
/// </summary>
public sealed class BadInputFixture : IDisposable
{
    public BadInputFixture()
    {
        Root = Directory.CreateTempSubdirectory("fairnad-cli-bad-").FullName;
        Directory.CreateDirectory(Path.Combine(Root, "folder"));
        File.WriteAllText(Path.Combine(Root, "garbage.json"), "{ this is not JSON ]\n");
        var resnet = ReferenceArchitectures.Get("resnet");
        File.WriteAllText(Path.Combine(Root, "huge.json"), SpecJson.Write(resnet with
        {
            Name = "huge",
            Stem = resnet.Stem with { Channels = 1_000_000_000 },
            Stages = resnet.Stages.Select(s => s with { Width = 1_000_000_000 }).ToList(),
        }));
        using (LineageStore.Open(Path.Combine(Root, "lineage.git"), create: true))
        {
        }

        Directory.CreateDirectory(Path.Combine(Root, "results", "garbagerun"));
        File.WriteAllText(Path.Combine(Root, "results", "garbagerun", "experiment.json"), "not json");
        Directory.CreateDirectory(Path.Combine(Root, "data", "fashion-mnist", "train-images-idx3-ubyte.gz"));
    }

    public string Root { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    /// <summary>Every file and folder under the root, to show that a refused command created nothing.</summary>
    public IReadOnlyList<string> Entries() =>
        Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

    /// <summary>Replaces the placeholders of a case with the fixture's paths.</summary>
    public string Expand(string text) => text
        .Replace("{dir}", Path.Combine(Root, "folder"), StringComparison.Ordinal)
        .Replace("{missing}", Path.Combine(Root, "missing.json"), StringComparison.Ordinal)
        .Replace("{garbage}", Path.Combine(Root, "garbage.json"), StringComparison.Ordinal)
        .Replace("{huge}", Path.Combine(Root, "huge.json"), StringComparison.Ordinal)
        .Replace("{repo}", Path.Combine(Root, "lineage.git"), StringComparison.Ordinal)
        .Replace("{results}", Path.Combine(Root, "results"), StringComparison.Ordinal)
        .Replace("{data}", Path.Combine(Root, "data"), StringComparison.Ordinal)
        .Replace("{root}", Root, StringComparison.Ordinal);
}

/// <summary>Every command and subcommand, given bad input, fails with a clear one-line reason and never a stack trace.</summary>
public sealed partial class BadInputTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    /// <summary>
    /// <paramref name="commandLine"/> is split on spaces (a '+' inside a word stands for a space, for run names such as
    /// "my run"); <paramref name="named"/> must appear in the error.
    /// </summary>
    [Theory]
    // arch
    [InlineData("arch show {dir}", "{dir} is a directory")]
    [InlineData("arch hash {missing}", "{missing}")]
    [InlineData("arch validate {garbage}", "{garbage}: not valid JSON")]
    [InlineData("arch analyze {dir}", "{dir}")]
    [InlineData("arch codegen {garbage}", "{garbage}")]
    [InlineData("arch codegen resnet --out {dir}", "--out {dir} is a directory")]
    [InlineData("arch build {garbage}", "{garbage}")]
    [InlineData("arch scale {huge} --params 20000", "{huge}: huge cannot be scaled: stem.channels: the number of stem channels is 1,000,000,000; the limit is 65,536; stages[0].width: the width of stage 0 is 1,000,000,000")]
    [InlineData("arch scale {dir} --params 100", "{dir}")]
    [InlineData("arch scale resnet --params 0", "--params must be at least 1")]
    [InlineData("arch scale resnet --params 100000 --divisor 0", "--divisor must lie in [1, 1024]")]
    [InlineData("arch references --dataset nope", "unknown dataset 'nope'")]
    [InlineData("arch show resnet --dataset nope", "unknown dataset 'nope'")]
    // data
    [InlineData("data show fashion-mnist --data-dir {garbage}", "{garbage} is a file")]
    [InlineData("data show fashion-mnist --data-dir {data}", "{data}/fashion-mnist/train-images-idx3-ubyte.gz is a directory")]
    [InlineData("data show svhn", "unknown dataset 'svhn'")]
    [InlineData("data download fashion-mnist --data-dir {garbage}", "{garbage} is a file")]
    [InlineData("data download cifar10 --data-dir {garbage}", "{garbage} is a file")]
    [InlineData("data make-subset --from {missing} --out {root}/subset", "--from {missing} does not exist")]
    [InlineData("data make-subset --from {dir} --out {root}/subset", "{dir}/train-images-idx3-ubyte.gz does not exist")]
    [InlineData("data make-subset --from {garbage} --out {root}/subset", "--from {garbage} is a file")]
    // evaluate
    [InlineData("evaluate {dir}", "{dir} is a directory")]
    [InlineData("evaluate {garbage}", "{garbage}: not valid JSON")]
    [InlineData("evaluate resnet --config {dir}", "--config {dir} is a directory")]
    [InlineData("evaluate resnet --checkpoint {dir}", "--checkpoint {dir} is a directory")]
    [InlineData("evaluate resnet --checkpoint {missing} --jobs 2", "--checkpoint trains one candidate in this process")]
    [InlineData("evaluate resnet --checkpoint {garbage}", "{garbage} is not a FairNad training checkpoint")]
    [InlineData("evaluate resnet --config {missing}", "--config {missing} does not exist")]
    [InlineData("evaluate resnet --config {garbage}", "{garbage}: not a training config")]
    [InlineData("evaluate resnet --data-dir {garbage}", "{garbage} is a file")]
    [InlineData("evaluate resnet --data-dir {data}", "{data}/fashion-mnist/train-images-idx3-ubyte.gz is a directory")]
    [InlineData("evaluate resnet --out {dir}", "--out {dir} is a directory")]
    [InlineData("evaluate {huge} --params 20000", "{huge}: huge cannot be scaled")]
    [InlineData("evaluate resnet --params 0", "--params must be at least 1")]
    // knowledge
    [InlineData("knowledge show --tree {dir}", "--tree {dir} is a directory")]
    [InlineData("knowledge stats --tree {missing}", "--tree {missing} does not exist")]
    [InlineData("knowledge validate --tree {garbage}", "{garbage}: not valid JSON")]
    [InlineData("knowledge validate --references {garbage}", "--references {garbage} is a file")]
    [InlineData("knowledge format {dir}", "{dir} is a directory")]
    [InlineData("knowledge format {missing}", "{missing} does not exist")]
    [InlineData("knowledge format {garbage}", "{garbage}: not valid JSON")]
    [InlineData("knowledge extract --llm off --references {missing}", "--references {missing} does not exist")]
    // lineage
    [InlineData("lineage verify --run ../victim --repo {repo}", "--run: run name '../victim' must be")]
    [InlineData("lineage list --run ../victim --repo {repo}", "run name '../victim'")]
    [InlineData("lineage abcdef123456 --run a/b --repo {repo}", "run name 'a/b'")]
    [InlineData("lineage export --run ../victim --to {root}/out.bundle --repo {repo}", "run name '../victim'")]
    [InlineData("lineage import --run {root}/victim --from {repo} --repo {root}/imported", "run name '{root}/victim'")]
    [InlineData("lineage verify --run my+run --repo {repo}", "run name 'my run'")]
    [InlineData("lineage verify --run x.lock --repo {repo}", "not end in .lock")]
    [InlineData("lineage list --repo {garbage}", "--repo {garbage} is a file")]
    [InlineData("lineage list --run nope --repo {repo}", "--run nope: no such run")]
    [InlineData("lineage abcdef123456 --repo {repo}", "no candidate abcdef123456")]
    [InlineData("lineage abc --repo {repo}", "at least 6 characters")]
    [InlineData("lineage import --run demo --from {missing} --repo {repo}", "--from {missing} does not exist")]
    [InlineData("lineage export --run nope --to {root}/copy.git --repo {repo}", "no run nope")]
    [InlineData("lineage export --run demo --to {garbage} --repo {repo}", "--to {garbage} is a file")]
    // search, reproduce, report
    [InlineData("search --run ../victim --results {results} --repo {repo}", "--run: run name '../victim'")]
    [InlineData("search --run {root}/victim --results {results} --repo {repo}", "run name '{root}/victim'")]
    [InlineData("search --run a/b --results {results} --repo {repo}", "run name 'a/b'")]
    [InlineData("search --run my+run --results {results} --repo {repo}", "run name 'my run'")]
    [InlineData("search --resume ../victim --results {results} --repo {repo}", "--resume: run name '../victim'")]
    [InlineData("search --experiment {dir} --results {results} --repo {repo}", "--experiment {dir} is a directory")]
    [InlineData("search --experiment {missing} --results {results} --repo {repo}", "{missing}: no such experiment file")]
    [InlineData("search --experiment {garbage} --results {results} --repo {repo}", "{garbage}: not valid JSON")]
    [InlineData("search --tree {dir} --results {results}", "--tree {dir} is a directory")]
    [InlineData("search --results {garbage}", "--results {garbage} is a file")]
    [InlineData("search --data-dir {garbage} --results {results}", "--data-dir {garbage} is a file")]
    [InlineData("reproduce --run ../victim --results {results}", "--run: run name '../victim'")]
    [InlineData("reproduce --run {root}/victim --results {results}", "run name '{root}/victim'")]
    [InlineData("reproduce --run nope --results {results}", "no recorded run 'nope'")]
    [InlineData("reproduce --run garbagerun --results {results}", "{results}/garbagerun/experiment.json")]
    [InlineData("report --run ../victim --results {results}", "--run: run name '../victim'")]
    [InlineData("report --runs garbagerun ../victim --results {results}", "--runs: run name '../victim'")]
    [InlineData("report --run nope --results {results}", "{results}/nope is not a run folder")]
    [InlineData("report --run garbagerun --results {results}", "{results}/garbagerun/experiment.json")]
    [InlineData("report --run garbagerun --results {results} --out {garbage}", "--out {garbage} is a file")]
    [InlineData("report --results {results}", "name a run (--run) or runs to aggregate (--runs)")]
    // bench
    [InlineData("bench models {dir}", "table {dir} is a directory")]
    [InlineData("bench models {missing}", "{missing}' does not exist")]
    [InlineData("bench models {garbage}", "{garbage}: no 'arch str' column")]
    [InlineData("bench proxies --nb201-dir {garbage}", "--nb201-dir {garbage} is a file")]
    [InlineData("bench proxies --nb201-dir {dir}", "{dir}/nb201_cifar10-valid.csv does not exist")]
    [InlineData("bench proxies --nb201-dir {dir} --dataset nope", "--dataset: unknown 'nope'")]
    [InlineData("bench proxies --nb201-dir {dir} --scores {dir}", "--scores: {dir} is a folder")]
    [InlineData("bench proxies --nb201-dir {dir} --sample 0", "--sample must be at least 1")]
    [InlineData("bench lineage --repo {garbage} --count 1", "--repo {garbage} is a file")]
    [InlineData("bench nb201 --out {garbage} --seeds 1 --budgets 1", "--out {garbage} is a file")]
    [InlineData("bench nb201 --strategies nope --seeds 1 --budgets 1", "unknown strategy 'nope'")]
    [InlineData("bench nb201 --rules 7 --seeds 1 --budgets 1", "--rules 7: known search rules are 1, 2, 3, 4")]
    [InlineData("bench operators --repeats 0", "--repeats must be at least 1")]
    [InlineData("bench overhead --candidates {dir}", "{dir} is a directory")]
    [InlineData("bench overhead --candidates {huge} --params 20000", "{huge}: huge cannot be scaled")]
    [InlineData("frobnicate", "frobnicate")]
    public void Cli_BadInput_ClearErrorWithoutStackTrace(string commandLine, string named)
    {
        var args = commandLine.Split(' ').Select(a => fixture.Expand(a).Replace('+', ' ')).ToArray();
        var before = fixture.Entries();

        var (code, _, error) = Run(args);

        Assert.Equal(2, code);
        Assert.StartsWith("fairnad: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", error, StringComparison.Ordinal);
        Assert.DoesNotMatch(StackFrame(), error);
        Assert.Contains(fixture.Expand(named), error, StringComparison.Ordinal);
        Assert.Equal(before, fixture.Entries());
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "victim")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReportInternalError_UnexpectedException_OneLineAndExit70StackOnlyWithDebug(bool debug)
    {
        Exception thrown;
        try
        {
            throw new InvalidCastException("a bug\nover two lines");
        }
        catch (InvalidCastException e)
        {
            thrown = e;
        }

        var error = new StringWriter();
        Environment.SetEnvironmentVariable("FAIRNAD_DEBUG", debug ? "1" : null);
        try
        {
            Assert.Equal(70, Program.ReportInternalError(thrown, error));
        }
        finally
        {
            Environment.SetEnvironmentVariable("FAIRNAD_DEBUG", null);
        }

        var lines = error.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("fairnad: internal error: System.InvalidCastException: a bug over two lines", lines[0]);
        if (debug)
        {
            Assert.Matches(StackFrame(), error.ToString());
        }
        else
        {
            Assert.Equal(["fairnad: this is a bug; set FAIRNAD_DEBUG=1 to see the stack trace, and report it with the command line"], lines[1..]);
        }
    }

    [Fact]
    public void BenchProxies_NonNumericAccuracy_ErrorNamesTableAndLine()
    {
        var folder = Directory.CreateDirectory(Path.Combine(fixture.Root, "tables")).FullName;
        var table = Path.Combine(folder, "nb201_cifar10-valid.csv");
        File.WriteAllText(table, "arch str,test accuracy\n|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|,x\n");
        try
        {
            var (code, _, error) = Run("bench", "proxies", "--nb201-dir", folder, "--dataset", "cifar10", "--sample", "1");

            Assert.Equal(2, code);
            Assert.Equal($"fairnad: {table}: line 2: expected an 'arch str' and a numeric 'test accuracy' field\n", error.ReplaceLineEndings("\n"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void BenchProxies_ScoresOfAnotherRecipe_ClearErrorAndFileKept()
    {
        var folder = Directory.CreateDirectory(Path.Combine(fixture.Root, "recipe-tables")).FullName;
        var cell = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|";
        File.WriteAllText(Path.Combine(folder, "nb201_cifar10-valid.csv"), $"file id,arch str,test accuracy\n0,{cell},90.5\n");
        var scores = Path.Combine(folder, "scores.csv");
        var recorded = $"dataset,file id,arch str,seed,recipe,synflow log10,parameters,test accuracy\ncifar10,0,{cell},0,synflow-old,12.5,1000,90.5\n";
        File.WriteAllText(scores, recorded);
        try
        {
            var (code, _, error) = Run("bench", "proxies", "--nb201-dir", folder, "--dataset", "cifar10", "--scores", scores);

            Assert.Equal(2, code);
            Assert.Contains($"{scores}: line 2: scored by synflow recipe 'synflow-old'", error, StringComparison.Ordinal);
            Assert.Equal(recorded, File.ReadAllText(scores));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex(@"(?m)^\s+at ")]
    private static partial Regex StackFrame();
}
