// SPDX-License-Identifier: MIT
// 8250/16550 UART at COM1 (ports 0x3f8-0x3ff, IRQ 4): transmit to the console;
// receive from stdin when it is a terminal, with the RX-ready and THR-empty
// interrupts raised on the in-kernel irqchip's line 4.
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../guest/abi.h"
#include "../vmm.h"

#define COM1_IRQ 4
#define RX_FIFO 256

enum { UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5,
       UART_MSR = 6, UART_SCR = 7 };
#define IER_RDI 0x01
#define IER_THRI 0x02
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0

struct uart {
	struct vm *vm;
	pthread_mutex_t lock;
	bool lock_made;
	pthread_t input;     /* reads stdin when it is a terminal */
	bool input_started;
	atomic_bool quit;    /* tells the input thread to end */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_irq_pending; /* THR-empty interrupt, cleared by reading IIR or writing THR */
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
	int irq_level;
};

static void update_irq(struct uart *u)
{
	int level = ((u->ier & IER_RDI) && u->rx_count) || ((u->ier & IER_THRI) && u->thr_irq_pending);
	if (level == u->irq_level)
		return;
	u->irq_level = level;
	struct kvm_irq_level irq = {.irq = COM1_IRQ, .level = (uint32_t)level};
	if (u->vm->vm_fd >= 0) /* the device harness has no irqchip */
		ioctl(u->vm->vm_fd, KVM_IRQ_LINE, &irq);
}

static uint8_t uart_read(struct uart *u, unsigned reg)
{
	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (!u->rx_count)
			return 0;
		uint8_t c = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % RX_FIFO;
		u->rx_count--;
		return c;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR: {
		uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;
		if ((u->ier & IER_RDI) && u->rx_count)
			return fifo | IIR_RDI;
		if ((u->ier & IER_THRI) && u->thr_irq_pending) {
			u->thr_irq_pending = false;
			return fifo | IIR_THRI;
		}
		return fifo | IIR_NONE;
	}
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		/* Transmission is instantaneous: the holding register is always empty. */
		return LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
	case UART_MSR:
		return 0xb0; /* DCD, DSR, CTS */
	default:
		return u->scr;
	}
}

static void uart_write(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			char ch = (char)v;
			console_write(&ch, 1);
			u->thr_irq_pending = true;
		}
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises it at once (8250 behaviour). */
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thr_irq_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case UART_IIR:
		u->fcr = v;
		if (v & 0x02)
			u->rx_count = 0;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

static void uart_pio(struct vcpu *cpu, void *opaque, uint16_t port, bool is_write,
		     uint8_t *data, unsigned size)
{
	struct uart *u = opaque;
	(void)cpu;
	pthread_mutex_lock(&u->lock);
	/* Wider accesses touch consecutive registers, as on the ISA bus. */
	for (unsigned i = 0; i < size; i++) {
		unsigned reg = (unsigned)(port - VCG_PORT_COM1 + i) & 7;
		if (is_write)
			uart_write(u, reg, data[i]);
		else
			data[i] = uart_read(u, reg);
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

/* stdin -> RX FIFO. Only started when stdin is a terminal. */
static void *input_thread(void *arg)
{
	struct uart *u = arg;
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

	while (!atomic_load(&u->quit) && !atomic_load(&u->vm->stopping)) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		char buf[64];
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n <= 0)
			break;
		pthread_mutex_lock(&u->lock);
		for (ssize_t i = 0; i < n && u->rx_count < RX_FIFO; i++) {
			u->rx[(u->rx_head + u->rx_count) % RX_FIFO] = (uint8_t)buf[i];
			u->rx_count++;
		}
		update_irq(u);
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

static int serial_init(struct vm *vm, void *st)
{
	struct uart *u = st;
	u->vm = vm;
	u->dll = 12; /* 9600 baud, as a BIOS leaves it */
	pthread_mutex_init(&u->lock, NULL);
	u->lock_made = true;
	int rc = vm_register_pio(vm, VCG_PORT_COM1, 8, uart_pio, u);
	if (rc)
		return rc;
	if (isatty(STDIN_FILENO)) {
		rc = pthread_create(&u->input, NULL, input_thread, u);
		if (rc) {
			vmm_err("serial: cannot start the input thread: %s", strerror(rc));
			return -rc;
		}
		u->input_started = true;
	}
	return 0;
}

static void serial_exit(struct vm *vm, void *st)
{
	struct uart *u = st;
	(void)vm;
	if (u->input_started) {
		atomic_store(&u->quit, true); /* seen within the poll's 100 ms */
		pthread_join(u->input, NULL);
	}
	if (u->lock_made)
		pthread_mutex_destroy(&u->lock);
}

const struct vmm_part serial_part = {
	.name = "serial",
	.state_size = sizeof(struct uart),
	.init = serial_init,
	.exit = serial_exit,
};
