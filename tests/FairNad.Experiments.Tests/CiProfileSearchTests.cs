using System.Net;
using System.Text.Json.Nodes;
using FairNad.Data;
using FairNad.Data.Tests;
using FairNad.Evaluation.Isolation;
using FairNad.Lineage;
using LibGit2Sharp;

namespace FairNad.Experiments.Tests;

/// <summary>
/// The shipped cifar100 and imagenet16-120 experiments at their ci profile, run for real (training included) on small
/// datasets written in the published file formats, so the readers, the experiment files and the whole pipeline are
/// exercised as CI runs them; and the same runs without their data, which must stop before any work.
/// </summary>
public sealed class CiProfileSearchTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    private string DataDirectory => Path.Combine(_fixture.Root, "data");

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData("cifar100")]
    [InlineData("imagenet16-120")]
    public void Search_CiProfileOnSyntheticDataInTheRealFormats_RunsTheProfilesCandidatesWithLineageAndManifest(string dataset)
    {
        var requirements = dataset == "cifar100" ? WriteCifar100() : WriteImageNet16();
        var path = Experiment(dataset);
        var ci = ExperimentFile.Load(path, "ci");

        // In-process: isolated workers load the data themselves, to the official record counts these small files lack.
        var outcome = SearchFixture.Run(Request(path, requirements, new ExperimentOverrides(Profile: "ci", Isolated: false, Jobs: 1))).Single();

        var run = $"{dataset}-ci-fairnad-s0";
        Assert.Equal(run, outcome.Run);
        Assert.Equal(ci.Candidates, outcome.Candidates.Count);
        Assert.All(outcome.Candidates, c => Assert.True(c.Status == "ok", $"{c.Candidate}: {c.Status} {c.FailureCategory}"));
        Assert.Contains(outcome.Candidates, c => c.Parents.Count > 0);
        using (var git = new Repository(_fixture.Root))
        {
            var branches = git.Refs.FromGlob(LineageLayout.BranchPrefix(run) + "*").Select(r => r.CanonicalName).Order(StringComparer.Ordinal);
            var expected = outcome.Candidates.Select(c => LineageLayout.CandidateBranch(run, c.Candidate)).Append(LineageLayout.RootBranch(run)).Order(StringComparer.Ordinal);
            Assert.Equal(expected, branches);
        }

        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(outcome.RunDirectory, RunArchive.ManifestFile)))!;
        Assert.Equal("ci", (string?)manifest["experiment"]!["profile"]);
        var copy = ExperimentFile.Load(Path.Combine(outcome.RunDirectory, RunArchive.ExperimentCopy));
        Assert.Equal(("ci", copy.Hash()), (copy.Profile, (string?)manifest["experiment"]!["sha256"]));
        Assert.Equal((ci with { Evaluation = ci.Evaluation with { Jobs = 1, Isolated = false } }).ToJson(), copy.ToJson());
        Assert.Equal((dataset, "cpu"), ((string?)manifest["dataset"]!["name"], (string?)manifest["torch"]!["device"]));
    }

    [Theory]
    [InlineData("cifar100", "cifar100: the download failed (")]
    [InlineData("imagenet16-120", "imagenet16-120 cannot be downloaded automatically: ImageNet's terms require a request per user")]
    public void Search_CiProfileDataAbsentAndUnreachable_StopsBeforeAnyWorkWithPlacementInstructions(string dataset, string expected)
    {
        var path = Experiment(dataset);
        using var offline = new HttpClient(new OfflineHandler());
        var request = Request(path, null, new ExperimentOverrides(Profile: "ci")) with { DownloadData = true, DataHttp = offline };

        var error = Assert.Throws<DataUnavailableException>(() => SearchFixture.Run(request));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        var placement = dataset == "cifar100"
            ? $"place cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (or the folder it extracts to, cifar-100-binary/) in {DataDirectory}"
            : $"place train_data_batch_1..10 and val_data in {Path.Combine(DataDirectory, "imagenet16")}";
        Assert.Contains(placement, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_fixture.Results, $"{dataset}-ci-fairnad-s0")), "a run that cannot start must leave no run folder");
        Assert.False(Directory.Exists(Path.Combine(DataDirectory, "imagenet16")));
    }

    [Fact]
    public void Search_DataAbsentWithoutDownload_SaysWhatToPlaceWhereBeforeAnyWork()
    {
        var path = Experiment("cifar100");

        var error = Assert.Throws<DataUnavailableException>(() => SearchFixture.Run(Request(path, null, new ExperimentOverrides(Profile: "ci"))));

        Assert.StartsWith($"cifar100: place cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (or the folder it extracts to, cifar-100-binary/) in {DataDirectory}, or run `fairnad data download cifar100`", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_fixture.Results, "cifar100-ci-fairnad-s0")));
    }

    [Fact]
    public void Search_ResumeWithAnotherProfile_IsRefusedNamingTheRecordedOne()
    {
        _fixture.Write(SearchFixture.Tiny with { Profile = "ci" });
        SearchFixture.Run(_fixture.Request());

        var error = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Profile: "nightly"), resume: "tiny-ci-fairnad-s0")));

        Assert.Equal("--profile nightly: run 'tiny-ci-fairnad-s0' was recorded with profile ci; a resume continues the recorded experiment, so leave --profile out", error.Message);
    }

    private string Experiment(string dataset)
    {
        var path = Path.Combine(_fixture.Root, "experiments", $"{dataset}.json");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "experiments", $"{dataset}.json"), path);
        return path;
    }

    private SearchRequest Request(string path, DataRequirements? requirements, ExperimentOverrides overrides) =>
        new(path, overrides, _fixture.Results, _fixture.Root, DataDirectory, null, null,
            WorkerCommand.ForAssembly(Path.Combine(AppContext.BaseDirectory, "fairnad.dll")), DataRequirements: requirements);

    /// <summary>
    /// cifar-100-binary.tar.gz as published (cifar-100-binary/ with train.bin, test.bin and the label-name files), 20
    /// training and 10 test images per class: the profile's 500-image training subset is 5 per class, its 500
    /// validation images the whole validation half of the test set.
    /// </summary>
    private DataRequirements WriteCifar100()
    {
        int[] Labels(int perClass) => Enumerable.Range(0, 100 * perClass).Select(i => i % 100).ToArray();
        Directory.CreateDirectory(DataDirectory);
        var tar = Formats.Tar(
        [
            ("cifar-100-binary/coarse_label_names.txt", "aquatic_mammals\n"u8.ToArray()),
            ("cifar-100-binary/fine_label_names.txt", "apple\n"u8.ToArray()),
            ("cifar-100-binary/train.bin", Formats.Cifar(Labels(20), cifar100: true, salt: 1)),
            ("cifar-100-binary/test.bin", Formats.Cifar(Labels(10), cifar100: true, salt: 2)),
        ]);
        File.WriteAllBytes(Path.Combine(DataDirectory, DatasetCatalog.Cifar100.FileName), Formats.Gzip(tar));
        return Formats.Small(cifar100Train: 2000, cifar100Test: 1000);
    }

    /// <summary>
    /// ImageNet16's pickles as published (Python 2, labels 1..1000): each training batch 2 images of each of the 120 kept
    /// classes plus 10 of other classes (dropped), val_data 10 per kept class plus 50 others.
    /// </summary>
    private DataRequirements WriteImageNet16()
    {
        var folder = Path.Combine(DataDirectory, "imagenet16");
        Directory.CreateDirectory(folder);
        byte[] Pickle(int perClass, int others, int salt)
        {
            var labels = Enumerable.Range(0, 120 * perClass).Select(i => 1 + (i % 120)).Concat(Enumerable.Range(0, others).Select(i => 121 + (i * 17 % 880))).ToArray();
            var pixels = new byte[labels.Length * 768];
            for (var i = 0; i < pixels.Length; i++)
            {
                pixels[i] = (byte)((salt * 31) + i);
            }

            return Formats.ImageNet16Pickle(pixels, labels, python2: true);
        }

        foreach (var (name, index) in ImageNet16Reader.TrainFiles.Select((n, i) => (n, i)))
        {
            File.WriteAllBytes(Path.Combine(folder, name), Pickle(2, 10, index));
        }

        File.WriteAllBytes(Path.Combine(folder, "val_data"), Pickle(10, 50, 99));
        return Formats.Small(imageNetTrain: 10 * ((120 * 2) + 10), imageNetValidation: (120 * 10) + 50);
    }

    /// <summary>A network that reaches no server, as on a CI runner without internet access.</summary>
    private sealed class OfflineHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new HttpRequestException($"{request.RequestUri!.Host}: name or service not known", null, HttpStatusCode.ServiceUnavailable);
    }
}
