namespace FairNad.Tests.Shared;

/// <summary>Operator sources as an LLM might write them: valid ones, broken ones and hostile ones.</summary>
public static class WrittenOperators
{
    private const string Usings = "using System;\nusing TorchSharp;\nusing static TorchSharp.torch;\n\n";

    /// <summary>A ghost module (GhostNet): half the output channels by a 1 x 1 convolution, the rest by a cheap depthwise one.</summary>
    public const string Ghost = Usings + """
        public sealed class GhostModule : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> primary;
            private readonly nn.Module<Tensor, Tensor> cheap;
            private readonly long rest;

            public GhostModule(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                var half = (outChannels + 1) / 2;
                primary = nn.Sequential(nn.Conv2d(inChannels, half, 1, stride: stride, bias: false), nn.BatchNorm2d(half), nn.ReLU());
                rest = outChannels - half;
                cheap = nn.Sequential(nn.Conv2d(half, half, 3, padding: 1, groups: half, bias: false), nn.BatchNorm2d(half), nn.ReLU());
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                var x = primary.forward(input);
                return torch.cat([x, cheap.forward(x).narrow(1, 0, rest)], 1);
            }
        }

        """;

    /// <summary>A gated MLP over channels: (W1 x) * sigmoid(W2 x), then a projection; a strided average pool first when stride > 1.</summary>
    public const string GatedMlp = Usings + """
        public sealed class GatedChannelMlp : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> value;
            private readonly nn.Module<Tensor, Tensor> gate;
            private readonly nn.Module<Tensor, Tensor> project;
            private readonly long step;

            public GatedChannelMlp(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                var hidden = Math.Max(4, inChannels * 2);
                value = nn.Conv2d(inChannels, hidden, 1);
                gate = nn.Conv2d(inChannels, hidden, 1);
                project = nn.Conv2d(hidden, outChannels, 1);
                step = stride;
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                var x = step > 1 ? nn.functional.avg_pool2d(input, step, step, ceil_mode: true) : input;
                return project.forward(value.forward(x) * torch.sigmoid(gate.forward(x)));
            }
        }

        """;

    /// <summary>Forgets the stride: the output keeps the input's size, which the contract does not allow for stride 2.</summary>
    public const string IgnoresStride = Usings + """
        public sealed class Pointwise : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv;

            public Pointwise(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                conv = nn.Conv2d(inChannels, outChannels, 1);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => conv.forward(input);
        }

        """;

    /// <summary>Returns the wrong number of channels (twice the input's).</summary>
    public const string WrongChannels = Usings + """
        public sealed class Doubler : nn.Module<Tensor, Tensor>
        {
            public Doubler(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => torch.cat([input, input], 1);
        }

        """;

    /// <summary>Divides by zero: every output is infinite or NaN.</summary>
    public const string NonFinite = Usings + """
        public sealed class Blowup : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv;

            public Blowup(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => conv.forward(input) / 0.0;
        }

        """;

    /// <summary>Has a layer forward never uses: no gradient reaches its weights.</summary>
    public const string UnusedParameter = Usings + """
        public sealed class Forgetful : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> used;
            private readonly nn.Module<Tensor, Tensor> unused;

            public Forgetful(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                used = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                unused = nn.Conv2d(inChannels, outChannels, 3, padding: 1);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => used.forward(input);
        }

        """;

    /// <summary>Deletes a file: rejected by the sandbox before anything is emitted (line 13).</summary>
    public const string DeletesFile = Usings + """
        public sealed class Vandal : nn.Module<Tensor, Tensor>
        {
            public Vandal(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) { System.IO.File.Delete("/tmp/x"); return input; }
        }

        """;

    /// <summary>Never finishes its constructor.</summary>
    public const string LoopsInConstructor = Usings + """
        public sealed class Spinner : nn.Module<Tensor, Tensor>
        {
            private readonly long count;

            public Spinner(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                while (inChannels > 0)
                {
                    count++;
                }

                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => input;
        }

        """;

    /// <summary>Never finishes forward.</summary>
    public const string LoopsInForward = Usings + """
        public sealed class ForwardSpinner : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv;

            public ForwardSpinner(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                var spins = input.shape[0];
                while (spins > 0)
                {
                    spins = (spins % 7) + 1;
                }

                return conv.forward(input);
            }
        }

        """;

    /// <summary>Asks for a 100 GB tensor in its constructor.</summary>
    public const string Allocates100Gb = Usings + """
        public sealed class Hoarder : nn.Module<Tensor, Tensor>
        {
            private readonly Tensor hoard;

            public Hoarder(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                hoard = torch.ones(25_000_000_000L);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => input + hoard[0];
        }

        """;

    /// <summary>Recurses without end in forward: the worker dies of a stack overflow.</summary>
    public const string OverflowsStack = Usings + """
        public sealed class Recurser : nn.Module<Tensor, Tensor>
        {
            public Recurser(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => Deeper(input, 0);

            private static Tensor Deeper(Tensor x, long depth) => depth < 0 ? x : Deeper(x, depth + 1) * 1.0; // not a tail call
        }

        """;
}
