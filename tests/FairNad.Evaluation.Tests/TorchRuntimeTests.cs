using FairNad.Evaluation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Tests;

public sealed class TorchRuntimeTests
{
    /// <summary>Conv-BN-ReLU, global pooling and a linear head: enough to exercise the kernels a candidate uses.</summary>
    private sealed class TinyConvNet : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d _conv;
        private readonly BatchNorm2d _norm;
        private readonly Linear _head;

        public TinyConvNet()
            : base(nameof(TinyConvNet))
        {
            _conv = nn.Conv2d(3, 8, kernel_size: 3, padding: 1, bias: false);
            _norm = nn.BatchNorm2d(8);
            _head = nn.Linear(8, 10);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var features = nn.functional.relu(_norm.forward(_conv.forward(input)));
            using var pooled = nn.functional.adaptive_avg_pool2d(features, 1).flatten(1);
            return _head.forward(pooled);
        }
    }

    [Fact]
    public void EnsureLoaded_OnThisHost_LoadsCpuBackend()
    {
        var info = TorchRuntime.EnsureLoaded();

        Assert.True(info.Threads >= 1);
        Assert.False(string.IsNullOrEmpty(info.TorchSharpVersion));
    }

    [Fact]
    public void EnsureLoaded_KernelPolicy_OneDnnOffNnpackWhereSupportedAndUninitialisedMemoryIsNaN()
    {
        var info = TorchRuntime.EnsureLoaded();
        using var fresh = empty(64);

        Assert.False(TorchRuntime.OneDnnEnabled);
        Assert.Equal(LibTorchContext.NnpackSupported(), TorchRuntime.NnpackEnabled);
        Assert.Equal($"{TorchRuntime.KernelPolicy} (here: NNPACK {(TorchRuntime.NnpackEnabled ? "on" : "off")})", info.Kernels);
        Assert.True(fresh.isnan().all().item<bool>(), "torch.empty returned memory that is not filled with NaN: deterministic algorithms are off");
    }

    [Fact]
    public void OptimizerStep_OnSmallConvNet_LossIsFiniteAndWeightsChange()
    {
        TorchRuntime.Configure(threads: 1, seed: 7);
        using var scope = NewDisposeScope();
        using var model = new TinyConvNet();
        var generator = new Generator(seed: 11);
        var images = rand([16, 3, 16, 16], generator: generator);
        var labels = randint(0, 10, [16], generator: generator);
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        using var optimizer = optim.SGD(model.parameters(), learningRate: 0.1, momentum: 0.9);

        model.train();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.forward(images), labels);
        loss.backward();
        optimizer.step();

        var value = loss.item<float>();
        Assert.True(float.IsFinite(value), $"loss {value} is not finite");
        var after = model.parameters().ToList();
        Assert.Equal(before.Count, after.Count);
        Assert.All(before.Zip(after), pair => Assert.False(pair.First.allclose(pair.Second), "a parameter did not change"));
    }

    [Fact]
    public void Forward_SameSeedTwice_GivesIdenticalOutputs()
    {
        Tensor Run()
        {
            TorchRuntime.Configure(threads: 1, seed: 123);
            using var model = new TinyConvNet();
            model.eval();
            using var _ = no_grad();
            return model.forward(ones([2, 3, 8, 8])).detach();
        }

        using var first = Run();
        using var second = Run();

        Assert.True(first.eq(second).all().item<bool>(), "two runs with the same seed differ");
    }

    [Theory]
    [InlineData("cpu", true)]
    [InlineData("cuda", true)]
    [InlineData("cuda:1", true)]
    [InlineData("gpu", false)]
    [InlineData("cuda:", false)]
    [InlineData("cuda:-1", false)]
    public void IsDeviceName_Forms_AcceptsCpuCudaAndIndexedCuda(string name, bool expected) =>
        Assert.Equal(expected, TorchRuntime.IsDeviceName(name));

    [Fact]
    public void Device_CudaWithoutGpu_ErrorSaysHowToGetOne()
    {
        if (cuda.is_available())
        {
            Assert.Equal(DeviceType.CUDA, TorchRuntime.Device("cuda").type);
            return;
        }

        var e = Assert.Throws<DeviceUnavailableException>(() => TorchRuntime.Device("cuda"));

        Assert.Contains("--torch-backend Cuda", e.Message, StringComparison.Ordinal);
        Assert.Equal(DeviceType.CPU, TorchRuntime.Device("cpu").type);
    }
}
